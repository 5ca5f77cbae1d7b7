"""Requests that only read, run without a transaction.

Every request that touches PostgreSQL pays five round trips at least: the pool's ping,
BEGIN, its statements, and the ROLLBACK that ends it. A view marked `@read_only` (the
reviewers' queues, polled all day long) runs its statements in autocommit mode instead:
psycopg sends no BEGIN before them and no ROLLBACK after, two round trips fewer. Each
statement then sees the data as of its own start; a marked view reads nothing that must
agree across two statements beyond what each statement's own snapshot gives it.

A marked view must not write: any statement other than a SELECT sent on its connection
raises `WriteInReadOnlyRequest` before it reaches the database. SQLite (the embedded
default) keeps its ordinary transactions.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from rating.extensions import db

OPTION = "rating_read_only"
View = TypeVar("View", bound=Callable)


class WriteInReadOnlyRequest(RuntimeError):
    """A view marked @read_only tried to change something."""


def read_only(view: View) -> View:
    """Mark a GET view as reading only (put it right under the route decorator)."""
    view.rating_read_only = True  # type: ignore[attr-defined]
    return view


def register(app: Flask) -> None:
    @app.before_request
    def _autocommit_reads() -> None:
        if request.method != "GET" or request.endpoint is None:
            return
        view = current_app.view_functions.get(request.endpoint)
        # Only on a session that has not begun: one that already holds a connection (a
        # caller's session shared with the request, as in-process test clients may do)
        # keeps its transaction.
        if (getattr(view, "rating_read_only", False) and db.engine.dialect.name == "postgresql"
                and not db.session().in_transaction()):
            db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT", OPTION: True})


@event.listens_for(Engine, "before_cursor_execute")
def _refuse_writes(conn, _cursor, statement: str, _parameters, _context, _executemany) -> None:
    if conn.get_execution_options().get(OPTION) and not statement.lstrip()[:6].upper() == "SELECT":
        raise WriteInReadOnlyRequest(f"a read-only request tried to write: {statement[:80]!r}")
