"""Who may apply for which level: the progression rules of both shipped editions."""
from __future__ import annotations

import pytest

from rating.rules.editions import load_edition_file
from rating.rules.eligibility import allowed_levels, check_progression
from rating.services.reference import shipped_edition_paths

pytestmark = pytest.mark.unit

EDITIONS = {p.stem: load_edition_file(p) for p in shipped_edition_paths()}

# held levels → levels the firm may apply for
TABLE = {
    "js-2022": {(): [3, 4], (3,): [4], (4,): [5], (3, 4): [5], (5,): [], (3, 4, 5): []},
    "js-2024": {(): [3], (3,): [4], (4,): [5], (3, 4): [5], (5,): [], (3, 4, 5): []},
}


@pytest.mark.parametrize("edition, held, allowed",
                         [(e, h, a) for e, rows in TABLE.items() for h, a in rows.items()])
def test_allowed_levels(edition, held, allowed):
    assert allowed_levels(EDITIONS[edition], held) == allowed


@pytest.mark.parametrize("edition, held, target, rule", [
    ("js-2022", (), 5, "progression"),
    ("js-2022", (3,), 5, "progression"),
    ("js-2022", (3,), 3, "level_held"),
    ("js-2022", (4,), 3, "level_held"),
    ("js-2024", (), 4, "progression"),
    ("js-2024", (3,), 5, "progression"),
    ("js-2024", (4,), 4, "level_held"),
    ("js-2024", (), 6, "unknown_level"),
])
def test_violations_name_the_rule(edition, held, target, rule):
    violation = check_progression(EDITIONS[edition], target, held)
    assert violation is not None and violation.rule == rule
    text = violation.message.render()
    assert "星级" in text


def test_stepwise_message_names_the_next_level():
    text = check_progression(EDITIONS["js-2024"], 5, (3,)).message.render()
    assert "3" in text and "4" in text
