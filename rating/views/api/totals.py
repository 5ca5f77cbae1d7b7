"""Totals through the API: firms with a valid rating on a date, grouped and ranked (public)."""
from __future__ import annotations

from datetime import date

from flask import request
from flask_babel import gettext as _

from rating import clock
from rating.errors import ValidationFailed
from rating.extensions import limiter
from rating.readonly import read_only
from rating.services.reporting import totals
from rating.views.api import bp, int_arg, level_arg


@bp.get("/totals")
@read_only
@limiter.limit("300 per minute")
def get_totals():
    group_by = request.args.get("group_by") or "city"
    if group_by not in totals.GROUPS:
        raise ValidationFailed(_("分组方式不正确。"), {"group_by": [_("应为 city、district、level、year 或 industry。")]})
    city = request.args.get("city") or None
    if city is not None and (len(city) != 6 or not city.isdigit()):
        raise ValidationFailed(_("行政区划代码应为 6 位数字。"), {"city": [_("行政区划代码应为 6 位数字。")]})
    raw_on = request.args.get("on") or None
    try:
        on = date.fromisoformat(raw_on) if raw_on else clock.today()
    except ValueError:
        raise ValidationFailed(_("日期格式应为 YYYY-MM-DD。"), {"on": [_("日期格式应为 YYYY-MM-DD。")]})
    if not totals.FIRST_DAY <= on <= totals.LAST_DAY:
        message = _("请输入 %(first)s 至 %(last)s 之间的日期。", first=totals.FIRST_DAY.isoformat(),
                    last=totals.LAST_DAY.isoformat())
        raise ValidationFailed(message, {"on": [message]})
    result = totals.compute(group_by, on, level=level_arg(), year=int_arg("year", 1990, 2100),
                            city=city)
    return result.as_json()
