"""Review stages: their order, and which level of jurisdiction owns each.

An application climbs county → city → province until the stage that has the final say
for its level (the edition's `final_stage`). Stages and jurisdiction levels are given
by their values ("county", ...): the `Stage` and `JurisdictionLevel` enums of the
models are `StrEnum`s of the same values, so either may be passed in.
"""
from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")

STAGES = ("county", "city", "province")
# The jurisdiction level whose officials and reviewers own each stage.
OWNING_LEVEL = {"county": "county", "city": "city", "province": "province"}


def owning_level(stage: str) -> str:
    return OWNING_LEVEL[stage]


def owner_code(stage: str, *, county: T, city: T, province: T) -> T:
    """Of a firm's county and its city and province (codes, or columns in a query),
    the one whose jurisdiction owns `stage`."""
    return {"county": county, "city": city, "province": province}[owning_level(stage)]


def before(stage: str, other: str) -> bool:
    """True when `stage` comes earlier in the climb than `other`."""
    return STAGES.index(stage) < STAGES.index(other)


def next_stage(stage: str) -> str:
    """The stage an application is forwarded to (none follows the province)."""
    return STAGES[STAGES.index(stage) + 1]
