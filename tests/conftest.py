"""Fixtures: throwaway PostgreSQL and Redis per run, the app migrated on them, clients."""
from __future__ import annotations

import contextvars
import os
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.support.servers import PostgresServer, RedisServer

# The fixtures every area shares (a batch, the people who decide, …) live in tests/support.
pytest_plugins = ["tests.support.fixtures"]

KINDS = ("unit", "integration", "browser", "fuzz")


def pytest_configure(config):
    from tests.support.hashing import remember_password_hashing

    remember_password_hashing()


def pytest_collection_modifyitems(items):
    """Tests live by area (tests/<area>/); each module says its kind with `pytestmark`, so
    `pytest -m unit` runs only what needs no server. A test without exactly one kind fails
    the run rather than going unselected."""
    for item in items:
        kinds = {mark.name for mark in item.iter_markers() if mark.name in KINDS}
        if len(kinds) != 1:
            found = ", ".join(sorted(kinds)) or "none"
            raise pytest.UsageError(
                f"{item.nodeid}: mark it with exactly one of {', '.join(KINDS)} (found {found})")


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer().start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer().start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def smtp_server():
    from tests.support.mail import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app_env(postgres, redis_server, smtp_server, tmp_path_factory) -> dict[str, str]:
    """The environment of the app under test, shared with the worker and web processes we start."""
    instance = tmp_path_factory.mktemp("instance")
    env = {
        "DATABASE_URL": postgres.create_database("rating_test"),
        "CELERY_BROKER_URL": redis_server.url(1),
        "INSTANCE_PATH": str(instance),
        "STORAGE_DIR": str(instance / "storage"),
        "SECRET_KEY": "test-secret-key",
        "TIMEZONE": "Asia/Shanghai",
        "SWEEP_GRACE_SECONDS": "3",
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_server.port),
    }
    os.environ.update(env)
    return {**os.environ, **env}


@pytest.fixture(scope="session")
def _app(app_env):
    from flask_migrate import upgrade

    from rating import create_app
    from rating.extensions import db
    from rating.services.reference import install_edition_file, load_divisions, shipped_edition_paths

    app = create_app({"TESTING": True})
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
        load_divisions()
        for path in shipped_edition_paths():
            install_edition_file(path)
        db.session.commit()
    return app


REFERENCE_TABLES = {"jurisdictions", "guide_editions", "alembic_version"}


def reset_database(app) -> None:
    from rating.extensions import db, limiter

    with app.app_context():
        tables = [t.name for t in db.metadata.sorted_tables if t.name not in REFERENCE_TABLES]
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        db.session.commit()
        limiter.reset()


class IsolatedClient(FlaskClient):
    """Each request runs in a fresh context, as under a real server: the test's own app
    context (and its `g`, logged-in user and database session) is not shared with it."""

    def open(self, *args, **kwargs):
        def run():
            response = FlaskClient.open(self, *args, **kwargs)
            if response.is_streamed:
                # A streamed body (CSV exports) is produced inside the request's context,
                # as a server would, not later where the test reads it.
                response.make_sequence()
            return response

        return contextvars.Context().run(run)


@pytest.fixture()
def app(_app, redis_server):
    reset_database(_app)
    import redis

    redis.Redis.from_url(redis_server.url(1)).flushdb()
    with _app.app_context():
        yield _app
        from rating.extensions import db

        db.session.rollback()
        db.session.remove()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def runner(app):
    return app.test_cli_runner()


@pytest.fixture()
def api(client):
    from tests.support.factories import Api

    return Api(client)


@pytest.fixture()
def log_dir(tmp_path) -> Path:
    return tmp_path
