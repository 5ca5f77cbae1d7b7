"""Points for one answer, by indicator type, and the date arithmetic of the guides."""
from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from typing import Any

from rating.rules.editions import Indicator
from rating.rules.messages import N_, Message, ngettext, plain


def months_of_use(started_on: date, until: date) -> int:
    """Whole calendar months from `started_on` to `until` (a month ends on the same day
    number, or the month's last day when it has fewer days)."""
    if started_on > until:
        return 0
    months = (until.year - started_on.year) * 12 + until.month - started_on.month
    last = calendar.monthrange(until.year, until.month)[1]
    day = min(started_on.day, last)
    if until.day < day:
        months -= 1
    return max(months, 0)


def threshold_points(thresholds, value: Decimal) -> tuple[Decimal, Decimal]:
    """(points of the highest threshold reached, the best points available)."""
    points = Decimal(0)
    for at_least, reward in thresholds:
        if value >= at_least:
            points = reward
    top = max((reward for _at, reward in thresholds), default=Decimal(0))
    return points, top


def indicator_points(indicator: Indicator, value: Any, cutoff: date):
    """(points, reason message) for one answer; never raises on typed input."""
    cap = indicator.max_points
    if value is None or value == "" or value == []:
        return Decimal(0), Message(N_("未填写"))
    kind = indicator.type
    if kind == "boolean":
        points = indicator.scoring.get("points", Decimal(0)) if value is True else Decimal(0)
        return min(points, cap), Message(ngettext("是（%(points)s 分）",
                                                  "是（%(points)s 分）") if value is True else N_("否（0 分）"),
                                         {"points": plain(points)} if value is True else {})
    if kind in ("integer", "decimal"):
        number = Decimal(value)
        thresholds = indicator.scoring.get("thresholds", [])
        points, _top = threshold_points(thresholds, number)
        reached = [at for at, reward in thresholds if number >= at]
        if not thresholds:
            return Decimal(0), Message(N_("填报 %(value)s（不计分，用于核对）"), {"value": plain(number)})
        if not reached:
            return Decimal(0), Message(N_("填报 %(value)s，未达到最低档 %(first)s（0 分）"),
                                       {"value": plain(number), "first": plain(thresholds[0][0])})
        return min(points, cap), Message(ngettext("填报 %(value)s，达到 ≥%(level)s 档（%(points)s 分）",
                                                  "填报 %(value)s，达到 ≥%(level)s 档（%(points)s 分）"),
                                         {"value": plain(number), "level": plain(reached[-1]),
                                          "points": plain(points)})
    if kind == "choice":
        option = indicator.option(str(value))
        if option is None:
            return Decimal(0), Message(N_("所选项不在指南选项中（0 分）"))
        return min(option.points, cap), Message(ngettext("已选择：%(label)s（%(points)s 分）",
                                                         "已选择：%(label)s（%(points)s 分）"),
                                                {"label": option.label, "label_en": option.label_en,
                                                 "points": plain(option.points)})
    if kind == "multi_choice":
        chosen = [indicator.option(str(v)) for v in value]
        known = [o for o in chosen if o is not None]
        raw = sum((o.points for o in known), Decimal(0))
        points = min(raw, cap)
        labels = {"labels": "、".join(o.label for o in known) or "—",
                  "labels_en": ", ".join(o.label_en or o.label for o in known) or "—"}
        if raw > cap:
            return points, Message(ngettext("已选择：%(labels)s（合计 %(raw)s 分，按上限计 %(points)s 分）",
                                            "已选择：%(labels)s（合计 %(raw)s 分，按上限计 %(points)s 分）"),
                                   {**labels, "raw": plain(raw), "points": plain(points)})
        return points, Message(ngettext("已选择：%(labels)s（%(points)s 分）",
                                        "已选择：%(labels)s（%(points)s 分）"), {**labels, "points": plain(points)})
    if kind == "text":
        minimum = indicator.scoring.get("min_length", 1)
        length = len(str(value).strip())
        if length >= minimum:
            points = min(indicator.scoring.get("points", Decimal(0)), cap)
            return points, Message(ngettext("已说明（%(n)s 字，%(points)s 分）", "已说明（%(n)s 字，%(points)s 分）"),
                                   {"n": length, "points": plain(points)})
        return Decimal(0), Message(N_("说明过短（%(n)s 字，至少 %(min)s 字）"), {"n": length, "min": minimum})
    if kind == "date":
        months = indicator.scoring.get("months_before_cutoff", 0)
        if not isinstance(value, date):
            return Decimal(0), Message(N_("日期无效（0 分）"))
        if value > cutoff:
            return Decimal(0), Message(N_("日期 %(date)s 晚于截止日（0 分）"), {"date": value.isoformat()})
        if months_of_use(value, cutoff) >= months:
            points = min(indicator.scoring.get("points", Decimal(0)), cap)
            return points, Message(ngettext("%(date)s，截至截止日已满 %(months)s 个月（%(points)s 分）",
                                            "%(date)s，截至截止日已满 %(months)s 个月（%(points)s 分）"),
                                   {"date": value.isoformat(), "months": months, "points": plain(points)})
        return Decimal(0), Message(N_("%(date)s，截至截止日不满 %(months)s 个月（0 分）"),
                                   {"date": value.isoformat(), "months": months})
    return Decimal(0), Message(N_("无法计分的指标类型"))
