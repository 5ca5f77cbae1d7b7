"""What makes a batch's dates, review days and levels consistent (pure)."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from rating.rules.messages import N_, Message

REVIEW_DAYS_MIN, REVIEW_DAYS_MAX = 1, 365
REVIEW_STAGES = ("county", "city", "province")
# Once a batch has an application these no longer change: its applications were judged by them.
FROZEN_ONCE_FILED = ("guide_edition", "usage_cutoff", "investment_from", "investment_to")


@dataclass(frozen=True)
class BatchTerms:
    opens_at: datetime
    closes_at: datetime
    usage_cutoff: date
    investment_from: date
    investment_to: date
    review_days: dict[str, int]
    levels: tuple[int, ...]


def problems(terms: BatchTerms, edition_levels: Collection[int]) -> dict[str, list[Message]]:
    """Each inconsistent field with why; empty when the terms hold together."""
    found: dict[str, list[Message]] = {}
    if terms.closes_at <= terms.opens_at:
        found["closes_at"] = [Message(N_("截止时间必须晚于开始时间。"))]
    if terms.investment_to < terms.investment_from:
        found["investment_to"] = [Message(N_("投入期间的结束日期不能早于开始日期。"))]
    elif terms.investment_to > terms.usage_cutoff:
        found["investment_to"] = [Message(N_("投入期间不能晚于使用情况截止日期。"))]
    for stage in REVIEW_STAGES:
        days = terms.review_days.get(stage)
        if days is None or not REVIEW_DAYS_MIN <= days <= REVIEW_DAYS_MAX:
            found[f"review_days.{stage}"] = [Message(
                N_("审核天数须在 %(low)s 至 %(high)s 天之间。"), {"low": REVIEW_DAYS_MIN, "high": REVIEW_DAYS_MAX})]
    missing = sorted(set(terms.levels) - set(edition_levels))
    if not terms.levels:
        found["levels"] = [Message(N_("请至少选择一个星级。"))]
    elif missing:
        found["levels"] = [Message(N_("指南版本没有 %(levels)s 星级。"),
                                   {"levels": "、".join(str(level) for level in missing)})]
    return found


def city_deadline_problem(opens_at: datetime, closes_at: datetime, deadline: datetime) -> Message | None:
    """A city's own deadline lies inside the province's window (after it opens, not after it closes)."""
    if not opens_at < deadline <= closes_at:
        return Message(N_("城市截止时间必须在批次受理期间内（晚于开始时间，不晚于省级截止时间）。"))
    return None
