"""The benchmarks' floor: a task that does nothing, registered by the benchmarks only.

Workers the benchmarks start import this module (`FLOOR_ENV`: Celery's `include`,
`CELERY_INCLUDE` in rating/config.py); production workers never define it.
"""
from __future__ import annotations

from celery import shared_task

FLOOR_ENV = {"CELERY_INCLUDE": "bench.floor"}


@shared_task(name="bench.floor.noop", acks_late=True)
def noop(value: int | str | None = None) -> int | str | None:
    """Does nothing: the floor that benchmarks compare real tasks against."""
    return value
