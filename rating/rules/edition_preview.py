"""What an administrator looks at before an edition is used: the score a sample answer set
gets at each level, and two editions' sources side by side."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from rating.rules.editions import Edition, Indicator
from rating.rules.indicator_points import indicator_points


def favourable(indicator: Indicator, cutoff: date) -> Any:
    """The most favourable answer to `indicator` (what a model firm would answer)."""
    kind = indicator.type
    if kind == "boolean":
        return True
    if kind == "choice":
        return max(indicator.options, key=lambda o: o.points).value
    if kind == "multi_choice":
        return [o.value for o in indicator.options]
    if kind in ("integer", "decimal"):
        top = max((at for at, _points in indicator.scoring.get("thresholds", [])), default=Decimal(0))
        value = max(top, indicator.min or Decimal(0))
        if indicator.max is not None:
            value = min(value, indicator.max)
        return int(value) if kind == "integer" else value
    if kind == "date":
        return cutoff - timedelta(days=31 * (indicator.scoring.get("months_before_cutoff", 0) + 1))
    return "示例" * max(1, int(indicator.scoring.get("min_length", 1)))


@dataclass(frozen=True)
class SampleScore:
    level: int
    points: Decimal          # the indicators' points (investment and time on the cloud come from the services)
    max: Decimal
    pass_score: Decimal


def sample_scores(edition: Edition, cutoff: date) -> list[SampleScore]:
    """Per level, the indicator points of the most favourable answer set."""
    result = []
    for level in sorted(edition.levels):
        indicators = edition.indicators_for(level)
        points = sum((indicator_points(i, favourable(i, cutoff), cutoff)[0] for i in indicators), Decimal(0))
        top = sum((i.max_points for i in indicators), Decimal(0))
        result.append(SampleScore(level, points, top, edition.levels[level].pass_score))
    return result


@dataclass(frozen=True)
class DiffRow:
    tag: str                 # equal, replace, delete, insert
    left_no: int | None
    left: str
    right_no: int | None
    right: str


def side_by_side(left: str, right: str, context: int = 3) -> list[DiffRow | None]:
    """Rows of the two texts side by side around their changes; None marks skipped lines."""
    a, b = left.splitlines(), right.splitlines()
    rows: list[DiffRow | None] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        if rows:
            rows.append(None)
        for tag, i1, i2, j1, j2 in group:
            for k in range(max(i2 - i1, j2 - j1)):
                i, j = i1 + k, j1 + k
                rows.append(DiffRow(tag, i + 1 if i < i2 else None, a[i] if i < i2 else "",
                                    j + 1 if j < j2 else None, b[j] if j < j2 else ""))
    return rows
