"""The consistency of a batch's terms and a city's deadline inside its window (rating.rules.batches)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from rating.models import Batch
from rating.rules.batches import BatchTerms, city_deadline_problem, problems

pytestmark = pytest.mark.unit

OPENS = datetime(2026, 3, 1, 1, 0, tzinfo=timezone.utc)
CLOSES = datetime(2026, 6, 30, 9, 30, tzinfo=timezone.utc)


def terms(**overrides) -> BatchTerms:
    values = {"opens_at": OPENS, "closes_at": CLOSES, "usage_cutoff": date(2026, 2, 28),
              "investment_from": date(2025, 1, 1), "investment_to": date(2026, 2, 28),
              "review_days": {"county": 10, "city": 20, "province": 30}, "levels": (3, 4, 5), **overrides}
    return BatchTerms(**values)


def test_consistent_terms_have_no_problem():
    assert problems(terms(), {3, 4, 5}) == {}


@pytest.mark.parametrize("overrides, field", [
    ({"closes_at": OPENS}, "closes_at"),
    ({"investment_to": date(2026, 3, 1)}, "investment_to"),          # after the cut-off
    ({"investment_from": date(2026, 3, 1)}, "investment_to"),        # ends before it starts
    ({"review_days": {"county": 0, "city": 20, "province": 30}}, "review_days.county"),
    ({"review_days": {"county": 10, "city": 366, "province": 30}}, "review_days.city"),
    ({"levels": (3, 6)}, "levels"),
    ({"levels": ()}, "levels"),
])
def test_each_problem_names_its_field(overrides, field):
    assert list(problems(terms(**overrides), {3, 4, 5})) == [field]


def test_a_city_deadline_lies_inside_the_window():
    assert city_deadline_problem(OPENS, CLOSES, CLOSES) is None
    assert city_deadline_problem(OPENS, CLOSES, CLOSES - timedelta(days=3)) is None
    assert city_deadline_problem(OPENS, CLOSES, CLOSES + timedelta(seconds=1)) is not None
    assert city_deadline_problem(OPENS, CLOSES, OPENS) is not None


def test_a_city_deadline_closes_the_batch_earlier_for_that_city_only():
    batch = Batch(opens_at=OPENS, closes_at=CLOSES, levels=[4, 5])
    moment = CLOSES - timedelta(days=1)
    assert batch.is_open_at(moment)
    assert not batch.is_open_at(moment, CLOSES - timedelta(days=2))
    assert batch.offers(4) and not batch.offers(3)
    assert Batch(levels=None).offers(3)
