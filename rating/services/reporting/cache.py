"""The one cache of reporting: results kept per process while the database is unchanged.

Why it exists: the budget every page and API read has to meet (docs/benchmarks.md: its
p99 with 20 clients on 200,000 applications and 300,000 ratings). Two reads cannot meet
it computed afresh for each request:
- the totals API (`totals.compute`) groups every valid rating of the province;
- the officials' dashboard (`views.dashboard._figures`): built from the counts
  materialised in `aggregates`, its figures' charts and tables are still too much to
  render for every request. What is kept is the rendered figures, the same for every
  official of a scope; the page around them (the user's name, forms, CSRF token) is
  rendered for each request as any page is.

A result is kept for as long as the database's snapshot is the same, i.e. while no
transaction anywhere has taken a transaction id, committed or rolled back: an equal
snapshot sees exactly the same rows, so the figures are those a new computation would
give. Any write changes the snapshot, and the next request computes afresh. A session
with changes of its own not yet committed is never served from, nor stored in, the
cache. Only on PostgreSQL (elsewhere nothing is kept).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

from rating.extensions import db

SIZE = 128   # results kept per process; all are dropped when it is full
_SNAPSHOT = "SELECT pg_current_snapshot()::text, pg_current_xact_id_if_assigned() IS NOT NULL"
_kept: dict[tuple, object] = {}
_lock = threading.Lock()
T = TypeVar("T")


def snapshot() -> tuple | None:
    """The committed state the database shows now, or None when results are not to be
    kept (not PostgreSQL, or this session has changes not committed yet)."""
    if db.engine.dialect.name != "postgresql" or db.session.new or db.session.dirty or db.session.deleted:
        return None
    current, writing = db.session.connection().exec_driver_sql(_SNAPSHOT).one()
    return None if writing else (db.engine.url, current)


def kept(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, or what it returned before under `key` and the same snapshot."""
    before = snapshot()
    if before is None:
        return compute()
    full_key = (before, key)
    found = _kept.get(full_key)
    if found is not None:
        return found  # type: ignore[return-value]
    result = compute()
    # Kept only if nothing committed while it was computed: then it is exactly what
    # that snapshot shows.
    if snapshot() == before:
        with _lock:
            if len(_kept) >= SIZE:
                _kept.clear()
            _kept[full_key] = result
    return result
