"""Faults on PostgreSQL, Redis and real web, worker and beat processes (docs/reliability.md).

Each scenario injects its fault into a real run (workers SIGKILLed, Redis stopped,
PostgreSQL restarted, storage full or unwritable, a batch closing mid-request), then
counts from the database, the storage folder and the SMTP server what was lost and what
was done twice: both must be zero. `python -m bench.faults` runs the first three at full
size (tests/support/faults/scenarios.py holds them for both).
"""
from __future__ import annotations

import hashlib
import io
import json
import socket
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from rating import clock
from rating.extensions import db
from rating.models import Rating
from tests.support.factories import PDF_BYTES, make_batch
from tests.support.faults import scenarios
from tests.support.faults.http import Http, Reply, parallel
from tests.support.faults.ledger import ledger, wait_until
from tests.support.faults.processes import Stack, StorageBlocker
from tests.support.faults.scenarios import all_scored, review_and_grant
from tests.support.faults.seed import FilingPlan, seed_firms, seed_staff
from tests.support import disk

pytestmark = pytest.mark.integration


@pytest.fixture()
def fault_env(app_env):
    # Sweepers every second; a job is "lost" after 3 s; a message whose sender died is
    # sent again after 10 s (production: 30 s, 60 s, 5 min).
    return {**app_env, "SWEEP_INTERVAL_SECONDS": "1", "SWEEP_GRACE_SECONDS": "3",
            "MAIL_SENDING_TIMEOUT_SECONDS": "10"}


def report(figures: dict) -> None:
    """The figures of a run, in the test's output (docs/reliability.md quotes them)."""
    print(f"\n{json.dumps(figures, ensure_ascii=False, default=str)}")


def test_workers_sigkilled_every_few_seconds(app, fault_env, log_dir, smtp_server):
    """120 submissions (6 a second) and 40 certificates while, every ~2.5 s, a worker loses
    its pool children or its main process: each application is scored once, each
    certificate rendered once, each email queued once."""
    figures = scenarios.workers_sigkilled(fault_env, log_dir, smtp_server, submissions=120, granted=40)
    report(figures)
    assert figures["pool_children_kills"] >= 3 and figures["main_process_kills"] >= 1, figures
    assert figures["tasks_interrupted"] >= 1, "no kill caught a job while it ran"
    assert figures["by_status"] == {"in_review": 80, "rated": 40}
    assert figures["certificates"]["ratings"] == 40
    certificates = figures["certificates"]
    assert certificates["ready_audit_beyond_one"] == certificates["generations_beyond_one"] == 0
    assert (figures["errors"], figures["lost"], figures["duplicates"]) == (0, 0, 0), figures


def test_redis_stopped_during_submissions_and_decisions(app, fault_env, log_dir, redis_server, smtp_server):
    """Redis (the broker, its queues and every message in it) goes away for 10 s while firms
    file and submit and county reviewers forward: every request answers, and once Redis is
    back the sweepers publish what waited: nothing lost, no email sent twice."""
    figures = scenarios.redis_outage(fault_env, log_dir, redis_server, smtp_server, firms=100, newcomers=10,
                                     outage=10)
    report(figures)
    assert figures["health_while_down"] == [503, {"status": "down", "database": "ok", "broker": "down"}]
    assert figures["requests"]["submit"] == {202: 100 + 10}
    assert figures["requests"]["decide:forward"] == {201: 30}
    assert figures["by_status"] == {"in_review": 110}
    assert (figures["errors"], figures["never_filed"]) == (0, 0), figures
    assert (figures["lost"], figures["duplicates"], figures["smtp_repeats"]) == (0, 0, 0), figures


def test_postgres_restarted_under_load(app, fault_env, log_dir, postgres, smtp_server):
    """PostgreSQL stops (fast shutdown: every session cut) for 5 s while firms file and
    submit and the public pages are read: each request either succeeds or answers 503 with
    a retryable Chinese message (the JSON envelope, or a readable page); retrying gets
    through, the pool recovers, no application is half-written and each is scored once."""
    figures = scenarios.postgres_restart(fault_env, log_dir, postgres, smtp_server, drafts=60, newcomers=30)
    report(figures)
    assert figures["answered_503"] > 0 and figures["answered_503_pages"] > 0, "the restart hit no request"
    assert figures["pool_recovered"] and figures["half_written"] == 0
    assert figures["by_status"] == {"in_review": 90}
    assert (figures["errors"], figures["never_filed"]) == (0, 0), figures
    assert (figures["lost"], figures["duplicates"]) == (0, 0), figures


@pytest.fixture()
def small_storage(tmp_path, app):
    blocker = StorageBlocker(tmp_path / "storage")
    original = app.config["STORAGE_DIR"]
    app.config["STORAGE_DIR"] = str(blocker.root)
    yield blocker
    app.config["STORAGE_DIR"] = original
    blocker.close()


def certificate_state(http: Http, token: str, number: str) -> dict:
    return http.call("rating", "GET", f"/api/v1/ratings/{number}", token).body["certificate"]


def wait_state(http: Http, token: str, number: str, state: str, stack, unlike: str | None = None) -> dict:
    """The certificate once it is in `state` (and, with `unlike`, names another file)."""
    def reached():
        current = certificate_state(http, token, number)
        wanted = current["state"] == state and (unlike is None or current["sha256"] != unlike)
        return current if wanted else None

    return wait_until(reached, 120, lambda: f"{certificate_state(http, token, number)}{stack.logs()}")


def test_storage_full_during_upload_and_render(app, fault_env, log_dir, small_storage):
    """Uploads and certificate renders while STORAGE_DIR is full: a clear 503 for the
    upload and a failed certificate, no row naming a file that is not there, no temporary
    left; the previous certificate stays downloadable; all works again once space is back."""
    from rating.models import Certificate, Evidence

    env = {**fault_env, "STORAGE_DIR": str(small_storage.root)}
    batch = make_batch()
    staff = seed_staff()
    firms = seed_firms(batch, 3)
    official, filer = staff["city_official"], firms[2]
    content = PDF_BYTES + b"% a new file\n"
    new_sha = hashlib.sha256(content).hexdigest()

    def upload() -> Reply:
        return http.call("evidence", "POST", f"/api/v1/applications/{filer.application_id}/evidence",
                         filer.token, files={"file": ("新证明.pdf", io.BytesIO(content), "application/pdf")})

    def regenerate(number: str) -> Reply:
        return http.call("again", "POST", f"/api/v1/ratings/{number}/certificate", official)

    def evidence_of_filer() -> list[str]:
        db.session.rollback()
        return list(db.session.execute(select(Evidence.sha256)
                                       .where(Evidence.application_id == filer.application_id)).scalars())

    evidence_before = evidence_of_filer()
    with Stack(env, log_dir, workers=1, concurrency=1, beat=False) as stack:
        http = Http(stack.url)
        assert {r.status for r in parallel(http.submit, firms[:2])} == {202}
        wait_until(all_scored([f.application_id for f in firms[:2]]), 60, stack.logs)
        [first_id] = review_and_grant(http, staff, firms[:1])
        first_no = db.session.get(Rating, first_id).certificate_no
        first = wait_state(http, official, first_no, "ready", stack)

        small_storage.block(disk.evidence_path(new_sha).parent, disk.certificate_folder(first_no).parent)
        try:
            refused = upload()
            evidence_while_full = evidence_of_filer()
            [second_id] = review_and_grant(http, staff, firms[1:2])
            second_no = db.session.get(Rating, second_id).certificate_no
            failed = wait_state(http, official, second_no, "failed", stack)
            last_error = db.session.get(Certificate, second_id).last_error
            download = http.call("pdf", "GET", f"/api/v1/ratings/{second_no}/certificate.pdf", official)
            if small_storage.mounted:
                # A corrected name needs a new file, which cannot be written: the old one stays.
                db.session.execute(select(Rating).where(Rating.certificate_no == first_no)).scalar_one() \
                    .certified_name = "故障演练更名后有限公司"
                db.session.commit()
                assert regenerate(first_no).status == 202
                kept = wait_state(http, official, first_no, "failed", stack)
                old_pdf = http.call("pdf", "GET", f"/api/v1/ratings/{first_no}/certificate.pdf", official,
                                    keep_content=True)
            leftovers = small_storage.leftovers()
        finally:
            small_storage.unblock()
        # Space is back: the same upload goes through; an official asks again for what failed.
        accepted = upload()
        assert regenerate(second_no).status == 202
        second = wait_state(http, official, second_no, "ready", stack)
        if small_storage.mounted:
            assert regenerate(first_no).status == 202
            renamed = wait_state(http, official, first_no, "ready", stack, unlike=first["sha256"])

    report({"scenario": "storage full", "storage": small_storage.kind,
            "upload": [refused.status, refused.body], "certificate": failed, "last_error": last_error,
            "leftovers": leftovers})
    assert refused.status == 503 and refused.error_code == "unavailable", refused.text
    expected = "文件存储空间已满" if small_storage.mounted else "文件存储暂时无法写入"
    assert expected in refused.body["error"]["message"] and refused.headers.get("Retry-After") == "5"
    assert evidence_while_full == evidence_before
    assert failed == {"state": "failed", "sha256": None, "size": None} and download.status == 409
    assert leftovers == []
    assert accepted.status == 201 and evidence_of_filer() == [*evidence_before, new_sha]
    assert disk.evidence_path(new_sha).read_bytes() == content
    assert second["state"] == "ready" and disk.certificate_path(second_no, second["sha256"]).exists()
    if small_storage.mounted:
        assert "No space left on device" in (last_error or "")
        # While the new file could not be written, the row kept naming the old one, which
        # stayed downloadable; once written, the new one replaced it.
        assert kept["sha256"] == first["sha256"] and old_pdf.status == 200
        assert hashlib.sha256(old_pdf.content).hexdigest() == first["sha256"]
        assert renamed["sha256"] != first["sha256"]
    figures = ledger([f.application_id for f in firms[:2]], [first_id, second_id])["certificates"]
    assert figures["files_missing"] == figures["extra_files"] == figures["temporaries_left"] == 0, figures


def test_unwritable_storage_refuses_an_upload_clearly(api, app, tmp_path):
    """STORAGE_DIR whose evidence folder cannot be created (a file is in the way): 503
    with the reason, no evidence row; the same upload works once the folder can be made."""
    from rating.models import Evidence
    from tests.support.flows import create, upload
    from tests.support.factories import good_application

    batch = make_batch()
    _firm, token = api.register_firm()
    application_id = create(api, token, good_application(batch, 3)).get_json()["id"]
    with disk.storage_blocked(app, tmp_path, "evidence"):
        refused = upload(api, token, application_id, PDF_BYTES)
    body = refused.get_json()
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert body["error"]["code"] == "unavailable" and "文件存储暂时无法写入" in body["error"]["message"]
    assert body["error"]["fields"] == {"file": [body["error"]["message"]]}
    assert db.session.execute(select(Evidence).where(Evidence.application_id == application_id)).all() == []
    assert upload(api, token, application_id, PDF_BYTES).status_code == 201


def send_slowly(port: int, path: str, token: str, body: bytes, pause) -> tuple[int, dict]:
    """A request whose headers and first bytes go now and the rest after `pause()` returns,
    as a firm's slow connection uploads: the server starts on it before it is complete."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head.encode() + body[:4])
        pause()
        sock.sendall(body[4:])
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    header, _sep, payload = received.partition(b"\r\n\r\n")
    return int(header.split()[1]), json.loads(payload)


def test_batch_closing_time_is_the_request_arrival(app, fault_env, log_dir):
    """Through gunicorn: a submission whose request arrived before the batch closed but
    whose body was still coming in at the deadline is on time (and recorded at its
    arrival); submissions and new drafts that arrive a second after closing are refused."""
    from rating.models import Application, StatusChange

    batch = make_batch()
    slow, late = seed_firms(batch, 2)
    [newcomer] = seed_firms(batch, 1, drafts=False)
    with Stack(fault_env, log_dir, workers=0, beat=False) as stack:
        http = Http(stack.url)
        closes_at = clock.now() + timedelta(seconds=5)
        batch.closes_at = closes_at
        db.session.commit()
        sent_at = clock.now()

        def until_after_closing():
            time.sleep(max(0.0, (closes_at - clock.now()).total_seconds()) + 1.5)

        status, body = send_slowly(stack.port, f"/api/v1/applications/{slow.application_id}/submit",
                                   slow.token, b'{"pledge": true}', until_after_closing)
        assert clock.now() > closes_at + timedelta(seconds=1)
        refused = http.submit(late)
        refused_draft = http.call("create", "POST", "/api/v1/applications", newcomer.token,
                                  json=FilingPlan.good(batch).body)
    assert (status, body.get("status")) == (202, "submitted"), body
    db.session.rollback()
    on_time = db.session.get(Application, slow.application_id)
    committed_at = db.session.execute(select(StatusChange.at).where(
        StatusChange.application_id == slow.application_id, StatusChange.action == "submit")).scalar_one()
    report({"scenario": "closing time", "closes_at": closes_at, "slow_request_sent": sent_at,
            "slow_recorded": on_time.submitted_at, "slow_committed": committed_at, "slow": status,
            "late": refused.status, "late_draft": refused_draft.status})
    assert sent_at <= on_time.submitted_at < closes_at < committed_at
    for reply in (refused, refused_draft):
        assert reply.status == 422 and reply.error_code == "ineligible", reply.text
        assert "不在受理时间内" in reply.body["error"]["message"]
    assert db.session.get(Application, late.application_id).status == "draft"
    assert db.session.execute(select(Application).where(Application.enterprise_id == newcomer.enterprise_id)
                              ).first() is None


@pytest.mark.parametrize("arrives, accepted", [
    (timedelta(microseconds=-1), True), (timedelta(0), False), (timedelta(seconds=1), False)])
def test_the_closing_instant_itself_is_late(api, app, monkeypatch, arrives, accepted):
    """The window is [opens_at, closes_at): a request arriving at closes_at is late. The
    arrival is read once, so the check and the recorded submission time agree."""
    from rating.models import Application

    batch = make_batch()
    [firm] = seed_firms(batch, 1)
    closes_at = clock.now().replace(microsecond=0) + timedelta(hours=1)
    batch.closes_at = closes_at
    db.session.commit()
    moments = iter([closes_at + arrives] + [closes_at + timedelta(minutes=m) for m in range(1, 100)])
    monkeypatch.setattr(clock, "now", lambda: next(moments))   # each later reading is later still
    response = api.post(f"/applications/{firm.application_id}/submit", {"pledge": True}, token=firm.token)
    monkeypatch.undo()
    assert (response.status_code == 202) is accepted, response.get_json()
    db.session.rollback()
    application = db.session.get(Application, firm.application_id)
    if accepted:
        assert application.submitted_at == closes_at + arrives
    else:
        assert application.status == "draft" and response.get_json()["error"]["code"] == "ineligible"


def test_a_connection_cut_after_the_answer_is_discarded_quietly(app, postgres):
    """The database cuts a request's connection after its answer was made (a restart):
    ending the request must not raise, which the server would turn into a bare 500."""
    import psycopg
    from sqlalchemy import text

    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()   # its transaction is open
    with psycopg.connect(f"host=127.0.0.1 port={postgres.port} user=postgres dbname=postgres",
                         autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    app.do_teardown_appcontext()   # what Flask runs after every request and task
    assert db.session.execute(text("SELECT 1")).scalar_one() == 1   # a new connection from the pool
