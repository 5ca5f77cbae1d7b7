"""The system's notion of now and today.

API.md: every calendar date of the system, "today" included, is a date in TIMEZONE.

Deadlines are judged by `arrival()`: the instant the server received the request, taken
once when it starts (before its body is read), so that a slow upload that began before a
batch closed is on time, and the check and the recorded time are the same instant.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app, g, has_request_context


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def now() -> datetime:
    return datetime.now(timezone.utc)


def today() -> date:
    return now().astimezone(zone()).date()


def local(moment: datetime) -> datetime:
    return moment.astimezone(zone())


def mark_arrival() -> None:
    """Called first thing in every request (a before_request hook of create_app)."""
    g.arrived_at = now()


def arrival() -> datetime:
    """When the current request arrived; outside a request (workers, commands), now."""
    if has_request_context():
        arrived = g.get("arrived_at")
        if arrived is not None:
            return arrived
    return now()
