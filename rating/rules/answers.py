"""Answers to indicators: one codec between form values, stored JSON, the API and the scorer.

Stored JSON keeps exact values: decimals as strings (no float drift), dates as ISO
strings; the API shows numbers as numbers.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from rating.rules.editions import Edition, Indicator


def to_storage(indicator: Indicator, value: Any) -> Any:
    """A validated Python value → JSON-able storage form (None = unanswered)."""
    if value is None or value == "" or value == []:
        return None
    kind = indicator.type
    if kind == "boolean":
        return bool(value)
    if kind == "integer":
        return int(value)
    if kind == "decimal":
        return str(Decimal(value))
    if kind == "multi_choice":
        return [str(v) for v in value]
    if kind == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    return str(value)


def from_storage(indicator: Indicator, stored: Any) -> Any:
    """Storage form → the normalised Python value the scorer expects."""
    if stored is None:
        return None
    kind = indicator.type
    try:
        if kind == "decimal":
            return Decimal(str(stored))
        if kind == "date":
            return date.fromisoformat(stored)
        if kind == "integer":
            return int(stored)
        if kind == "multi_choice":
            return list(stored)
    except (InvalidOperation, ValueError, TypeError):
        return None
    return stored


def to_json(indicator: Indicator, stored: Any) -> Any:
    if stored is not None and indicator.type == "decimal":
        number = Decimal(str(stored))
        return int(number) if number == number.to_integral_value() else float(number)
    return stored


def for_scoring(edition: Edition, stored_answers: dict) -> dict[str, Any]:
    result = {}
    for code, stored in (stored_answers or {}).items():
        try:
            indicator = edition.indicator(code)
        except KeyError:
            continue
        result[code] = from_storage(indicator, stored)
    return result


def for_api(edition: Edition, stored_answers: dict) -> dict[str, Any]:
    result = {}
    for code, stored in (stored_answers or {}).items():
        try:
            result[code] = to_json(edition.indicator(code), stored)
        except KeyError:
            result[code] = stored
    return result


def is_answered(stored: Any) -> bool:
    return stored is not None and stored != "" and stored != []
