"""The system's notion of now and today.

API.md: every calendar date of the system, "today" included, is a date in TIMEZONE.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def now() -> datetime:
    return datetime.now(timezone.utc)


def today() -> date:
    return now().astimezone(zone()).date()


def local(moment: datetime) -> datetime:
    return moment.astimezone(zone())
