"""Pooled database connections are checked when they may have gone stale, not at every checkout.

`pool_pre_ping` sends a round trip (SELECT 1) each time a request takes a connection from
the pool: one of the three round trips of a reviewer's queue page. A connection given back
a moment ago is alive; one that sat idle may have been cut meanwhile (a database restart,
a firewall's idle timeout). So a connection idle for more than POOL_PING_IDLE_SECONDS is
pinged when it is taken, and one that fails the ping is replaced before anyone uses it
(SQLAlchemy's documented pessimistic check: `DisconnectionError` from a checkout hook makes
the pool retry with a fresh connection).

A database that restarts while connections are busy: the requests in flight, and the
first one on each stale connection, answer 503 with Retry-After (`rating/errors.py`);
that first disconnect error makes SQLAlchemy discard every connection of the pool opened
before it, so the process recovers at once (docs/reliability.md, section 3).
"""
from __future__ import annotations

import time

from flask import Flask
from sqlalchemy import Engine, event, exc

from rating.extensions import db

IDLE_KEY = "rating_checked_in_at"
_ACTIVE = "RATING_POOL_IDLE_PING"


def register(app: Flask) -> None:
    """After the engine exists: the hooks that ping a connection idle too long."""
    if app.config.get(_ACTIVE):
        with app.app_context():
            install(db.engine, float(app.config["POOL_PING_IDLE_SECONDS"]))


def install(engine: Engine, idle_seconds: float) -> None:
    """Ping a connection of `engine`'s pool when it is taken after more than `idle_seconds`
    unused (or for the first time), and replace it if the ping fails."""

    @event.listens_for(engine, "checkin")
    def _note_return(_dbapi_connection, record) -> None:
        record.info[IDLE_KEY] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        returned = record.info.get(IDLE_KEY)
        if returned is not None and time.monotonic() - returned <= idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(f"a pooled connection failed its ping: {error}") from error


def configure(app: Flask) -> None:
    """Before the engine exists: on PostgreSQL, replace the ping at every checkout by ours."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options["pool_pre_ping"] = False
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
        app.config[_ACTIVE] = True
