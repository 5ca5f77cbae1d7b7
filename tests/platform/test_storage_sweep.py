"""Beat's storage sweeper: temporaries of writes killed before their rename (evidence
uploads, export files, certificate renders) are removed once an hour old, wherever they lie
under STORAGE_DIR; younger ones (a write in progress) and stored files stay. The S3
backend's staging folder: tests/platform/test_s3_storage.py."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from workers import tasks

pytestmark = pytest.mark.integration

SHA = "ab" * 32


def aged(path: Path, hours: float) -> Path:
    """`path` created, last written `hours` ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"part of a file")
    moment = time.time() - hours * 3600
    os.utime(path, (moment, moment))
    return path


def test_temporaries_of_killed_writes_are_swept_after_an_hour(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "STORAGE_DIR", str(tmp_path))
    killed = [aged(tmp_path / "evidence/ab/ab/.upload-killed", 2), aged(tmp_path / "exports/.tmp-killed", 2),
              aged(tmp_path / "certificates/JS-2024-000001/.render-killed", 1.1)]
    writing = [aged(tmp_path / "evidence/ab/ab/.upload-writing", 0.5), aged(tmp_path / "exports/.tmp-writing", 0)]
    stored = [aged(tmp_path / f"evidence/ab/ab/{SHA}", 48), aged(tmp_path / "exports/7.csv", 48),
              aged(tmp_path / f"certificates/JS-2024-000001/{SHA}.pdf", 48)]

    assert tasks.sweep_storage() == 3
    assert not any(path.exists() for path in killed)
    assert all(path.exists() for path in writing + stored)
    assert tasks.sweep_storage() == 0


def test_the_storage_sweeper_is_on_beats_schedule(app):
    entry = app.config["CELERY"]["beat_schedule"]["sweep-storage"]
    assert entry["task"] == "workers.tasks.sweep_storage" == tasks.sweep_storage.name
    assert entry["task"] in app.extensions["celery"].tasks
    assert entry["schedule"] <= 3600            # a stale file lives at most two hours
