"""Review stages (order, owning jurisdiction) and competition ranks: pure rules, as tables."""
from __future__ import annotations

import pytest

from rating.models.enums import JurisdictionLevel, Stage
from rating.rules import stages
from rating.rules.ranks import competition_ranks

pytestmark = pytest.mark.unit


def test_stages_climb_county_city_province_and_match_the_enum():
    assert stages.STAGES == ("county", "city", "province")
    assert set(stages.STAGES) == set(Stage.values())
    assert set(stages.OWNING_LEVEL.values()) <= set(JurisdictionLevel.values())


@pytest.mark.parametrize("stage, level, owner, following", [
    (Stage.county, JurisdictionLevel.county, "320402", "city"),
    (Stage.city, JurisdictionLevel.city, "320400", "province"),
    (Stage.province, JurisdictionLevel.province, "320000", None),
])
def test_each_stage_is_owned_by_one_level(stage, level, owner, following):
    assert stages.owning_level(stage) == level
    assert stages.owner_code(stage, county="320402", city="320400", province="320000") == owner
    if following is None:
        with pytest.raises(IndexError):
            stages.next_stage(stage)
    else:
        assert stages.next_stage(stage) == following
        assert stages.before(stage, following) and not stages.before(following, stage)


@pytest.mark.parametrize("counts, ranks", [
    ({}, {}),
    ({"a": 3}, {"a": 1}),
    ({"a": 10, "b": 7, "c": 7, "d": 3}, {"a": 1, "b": 2, "c": 2, "d": 4}),
    ({"b": 0, "a": 0}, {"a": 1, "b": 1}),
    ({"x": 1, "y": 5, "z": 5}, {"y": 1, "z": 1, "x": 3}),
])
def test_ties_share_a_rank_and_the_next_is_skipped(counts, ranks):
    result = competition_ranks(counts)
    assert result == ranks
    assert list(result) == sorted(counts, key=lambda k: (-counts[k], k))   # in rank order
