"""Pooled connections are pinged when they sat idle, not at every checkout (rating/pool.py)."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine, exc, text

from rating import pool
from rating.extensions import db

pytestmark = pytest.mark.integration


@pytest.fixture()
def engine(app_env):
    """A pool of one connection with our hooks, on the tests' PostgreSQL."""
    engine = create_engine(app_env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1),
                           pool_size=1, max_overflow=0, pool_pre_ping=False)
    pool.install(engine, idle_seconds=5)
    yield engine
    engine.dispose()


@pytest.fixture()
def pings(engine, monkeypatch):
    made = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: made.append(1) or real(conn))
    return made


def _pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _kill(app_env, pid: int) -> None:
    url = app_env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as killer:
        assert killer.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


def _age(engine, seconds: float) -> None:
    """Make the pooled connection look returned `seconds` ago."""
    for record in list(engine.pool._pool.queue):
        record.info[pool.IDLE_KEY] -= seconds


def test_a_connection_in_steady_use_is_not_pinged_one_idle_is(engine, pings):
    first = _pid(engine)                     # a new connection: pinged once
    assert len(pings) == 1
    for _ in range(5):
        assert _pid(engine) == first         # the same connection, taken again at once: no ping
    assert len(pings) == 1
    _age(engine, 6)
    assert _pid(engine) == first and len(pings) == 2


def test_an_idle_connection_the_database_cut_is_replaced_before_use(app_env, engine, pings):
    first = _pid(engine)
    _kill(app_env, first)
    _age(engine, 6)
    assert _pid(engine) != first             # the ping found it dead: a fresh one, no error


def test_a_connection_cut_while_in_steady_use_fails_once_then_the_pool_recovers(app_env, engine):
    first = _pid(engine)
    _kill(app_env, first)
    with pytest.raises(exc.OperationalError) as raised:
        _pid(engine)                         # the request that finds it dead answers 503
    assert raised.value.connection_invalidated
    assert _pid(engine) != first             # and the next one has a fresh connection


def test_the_app_pings_idle_connections_only(app):
    assert db.engine.dialect.name == "postgresql"
    assert db.engine.pool._pre_ping is False
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is False
    hooks = {f.__name__ for f in db.engine.pool.dispatch.checkout} | {f.__name__ for f in db.engine.pool.dispatch.checkin}
    assert {"_ping_if_idle", "_note_return"} <= hooks
