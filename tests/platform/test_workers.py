"""Scoring by real Celery worker processes on PostgreSQL and Redis, with faults injected."""
from __future__ import annotations

import io
import signal
import time

import psutil
import pytest
from sqlalchemy import func, select

from rating.extensions import db
from rating.models import Application, ApplicationScore, StatusChange
from tests.support.factories import PDF_BYTES, good_application, make_batch
from tests.support.servers import BIN, Process, worker

pytestmark = pytest.mark.integration


@pytest.fixture()
def worker_env(app_env):
    return {**app_env, "SWEEP_INTERVAL_SECONDS": "1", "SWEEP_GRACE_SECONDS": "3"}


@pytest.fixture()
def beat(worker_env, log_dir):
    proc = Process([str(BIN / "celery"), "-A", "workers.celery_app", "beat", "--loglevel", "INFO",
                    "--schedule", str(log_dir / "beat-schedule")], worker_env, "beat", log_dir)
    proc.start().wait_for_log("beat: Starting")
    yield proc
    proc.stop()


def submit_many(api, batch, count: int) -> list[int]:
    from rating.services.reference import get_edition

    needs_evidence = [i.code for i in get_edition(batch.edition_code).indicators_for(3) if i.evidence_required]
    ids = []
    for _ in range(count):
        _firm, token = api.register_firm()
        body = api.post("/applications", good_application(batch, 3), token=token).get_json()
        for code in needs_evidence:
            api.client.post(f"/api/v1/applications/{body['id']}/evidence",
                            data={"file": (io.BytesIO(PDF_BYTES), "e.pdf"), "indicator_code": code},
                            headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data")
        response = api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token)
        assert response.status_code == 202, response.get_json()
        ids.append(body["id"])
    return ids


def scored_at_least(count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while status_counts().get("in_review", 0) < count:
        assert time.monotonic() < deadline, f"fewer than {count} scored after {timeout}s: {status_counts()}"
        time.sleep(0.02)


def status_counts() -> dict[str, int]:
    db.session.rollback()  # see what the workers committed
    rows = db.session.execute(select(Application.status, func.count()).group_by(Application.status)).all()
    return dict(rows)


def wait_until_scored(count: int, timeout: float = 180.0, log_dir=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status_counts().get("in_review", 0) == count:
            return
        time.sleep(0.3)
    logs = ""
    if log_dir is not None:
        for path in sorted(log_dir.glob("*.log")):
            logs += f"\n--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
    raise AssertionError(f"not all scored in {timeout}s: {status_counts()}{logs}")


def assert_scored_exactly_once(ids: list[int]) -> None:
    db.session.rollback()
    scores = dict(db.session.execute(
        select(ApplicationScore.application_id, func.count()).group_by(ApplicationScore.application_id)).all())
    scored_entries = dict(db.session.execute(
        select(StatusChange.application_id, func.count()).where(StatusChange.action == "scored")
        .group_by(StatusChange.application_id)).all())
    assert {i: scores.get(i) for i in ids} == {i: 1 for i in ids}
    assert {i: scored_entries.get(i) for i in ids} == {i: 1 for i in ids}


def test_worker_scores_submissions(api, batch, worker_env, log_dir):
    proc = worker(worker_env, log_dir)
    try:
        ids = submit_many(api, batch, 3)
        wait_until_scored(3, log_dir=log_dir)
    finally:
        proc.stop()
    assert_scored_exactly_once(ids)


# The kill tests score in batches of 4, so that the kill lands between and inside batches.
SMALL_BATCHES = {"SCORING_BATCH_SIZE": "4"}


def test_pool_child_killed_mid_task(api, batch, worker_env, log_dir):
    ids = submit_many(api, batch, 30)
    proc = worker({**worker_env, **SMALL_BATCHES}, log_dir, concurrency=2)
    try:
        children = []
        deadline = time.monotonic() + 30
        while not children and time.monotonic() < deadline:
            # The pool's children, not the worker's main process (which runs under its supervisor).
            mains = psutil.Process(proc.process.pid).children()
            children = mains[0].children(recursive=True) if mains else []
            time.sleep(0.05)
        scored_at_least(3)
        for child in children:
            child.send_signal(signal.SIGKILL)
        wait_until_scored(30, log_dir=log_dir)
    finally:
        proc.stop()
    assert_scored_exactly_once(ids)


def test_whole_worker_killed_then_sweeper_recovers(api, batch, worker_env, log_dir, beat):
    ids = submit_many(api, batch, 30)
    first = worker({**worker_env, **SMALL_BATCHES}, log_dir, name="first")
    try:
        scored_at_least(3)
    except AssertionError:
        first.stop()
        raise
    first.kill(signal.SIGKILL)
    assert status_counts().get("submitted", 0) > 0, "the kill came too late to test anything"
    second = worker({**worker_env, **SMALL_BATCHES}, log_dir, name="second")
    try:
        wait_until_scored(30, log_dir=log_dir)
    finally:
        second.stop()
    assert_scored_exactly_once(ids)


def test_broker_down_during_submission(api, batch, worker_env, log_dir, beat, redis_server):
    proc = worker(worker_env, log_dir)
    try:
        redis_server.stop()
        started = time.monotonic()
        ids = submit_many(api, batch, 5)
        assert time.monotonic() - started < 60, "submissions must not hang while the broker is down"
        assert status_counts() == {"submitted": 5}
        redis_server.start()
        wait_until_scored(5, log_dir=log_dir)
    finally:
        proc.stop()
    assert_scored_exactly_once(ids)


def test_worker_delivers_email_to_the_firm(api, batch, worker_env, log_dir, smtp_server):
    from rating.models import OutboxEmail
    from tests.support.mail import subject

    smtp_server.clear()
    proc = worker(worker_env, log_dir)
    try:
        submit_many(api, batch, 1)
        wait_until_scored(1, log_dir=log_dir)
        smtp_server.wait_for(lambda m: "审核中" in subject(m))
        smtp_server.wait_for(lambda m: "已提交" in subject(m))
        # The flush marks its messages sent after the last one went out: wait for that
        # commit before stopping the worker (received is not yet recorded).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            db.session.rollback()
            if "sending" not in db.session.execute(select(OutboxEmail.status)).scalars().all():
                break
            time.sleep(0.1)
    finally:
        proc.stop()
    db.session.rollback()
    assert db.session.execute(select(OutboxEmail.status)).scalars().all() == ["sent", "sent"]


def test_a_worker_serves_the_main_queue_before_mail(app, worker_env, log_dir):
    """Scoring, routing and certificates ("celery") before emails ("mail") whenever both
    wait: during a burst the firms see their scores first, the emails follow the burst."""
    from bench.floor import FLOOR_ENV, noop

    for n in range(3):
        noop.apply_async(args=[f"mail-{n}"], queue="mail")
        noop.apply_async(args=[f"main-{n}"], queue="celery")
    proc = worker({**worker_env, **FLOOR_ENV}, log_dir, concurrency=1)
    try:
        proc.wait_for_log("'mail-2'")
    finally:
        proc.stop()
    done = [line.rsplit("'", 2)[1] for line in proc.output().splitlines()
            if "bench.floor.noop[" in line and " succeeded in " in line]
    assert done == ["main-0", "main-1", "main-2", "mail-0", "mail-1", "mail-2"], proc.output()


def test_every_job_the_application_publishes_is_a_worker_task(app):
    """`rating` publishes by task name (`jobs`) and never imports `workers`: each name it
    uses must be a task the workers register."""
    import workers.tasks  # noqa: F401  (registers the tasks)
    from rating.platform import jobs

    assert set(jobs.NAMES) <= set(app.extensions["celery"].tasks)
