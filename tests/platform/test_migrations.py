"""Migrations: one head, they build the schema from an empty database, and the models do not drift."""
from __future__ import annotations

import subprocess

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from tests.support.servers import BIN, ROOT

pytestmark = pytest.mark.integration


def test_single_head():
    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, heads


def flask(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_from_empty_and_no_drift(backend, postgres, tmp_path, app_env):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    else:
        url = postgres.create_database("rating_migrations")
    env = {**app_env, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path)}
    upgrade = flask(["db", "upgrade"], env)
    assert upgrade.returncode == 0, upgrade.stderr
    check = flask(["db", "check"], env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr
    downgrade = flask(["db", "downgrade", "base"], env)
    assert downgrade.returncode == 0, downgrade.stderr
