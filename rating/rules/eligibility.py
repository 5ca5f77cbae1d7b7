"""Who may apply for which level: the edition's progression rule (pure)."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from rating.rules.editions import Edition
from rating.rules.messages import N_, Message


@dataclass(frozen=True)
class Violation:
    rule: str  # progression | level_held | unknown_level
    message: Message


def allowed_levels(edition: Edition, held_levels: Collection[int]) -> list[int]:
    return [level for level in sorted(edition.levels) if check_progression(edition, level, held_levels) is None]


def check_progression(edition: Edition, target_level: int, held_levels: Collection[int]) -> Violation | None:
    levels = sorted(edition.levels)
    if target_level not in edition.levels:
        return Violation("unknown_level", Message(N_("指南中没有 %(level)s 星级"), {"level": target_level}))
    highest = max(held_levels, default=None)
    if highest is not None and target_level <= highest:
        return Violation("level_held", Message(
            N_("企业已获评%(held)s星级，不能申报同级或更低星级"), {"held": highest}))
    if edition.progression_mode == "stepwise":
        above = [lvl for lvl in levels if highest is None or lvl > highest]
        expected = above[0] if above else None
        if target_level != expected:
            if highest is None:
                return Violation("progression", Message(
                    N_("按逐级申报规则，未获评星级的企业只能申报%(expected)s星级"), {"expected": expected}))
            return Violation("progression", Message(
                N_("按逐级申报规则，已获评%(held)s星级的企业只能申报%(expected)s星级"),
                {"held": highest, "expected": expected}))
        return None
    required = edition.levels[target_level].requires_level
    if required is not None and (highest is None or highest < required):
        return Violation("progression", Message(
            N_("申报%(level)s星级须已获评%(required)s星级"), {"level": target_level, "required": required}))
    return None
