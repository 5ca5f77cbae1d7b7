"""Certificates on PostgreSQL with real workers: render, store, download, verify, revoke."""
from __future__ import annotations

import hashlib
import io
import shutil
import signal
import time

import psutil
import pytest
from sqlalchemy import select

from rating import clock
from rating.extensions import db
from rating.models import Certificate, OutboxEmail, Rating
from rating.platform import storage
from rating.services.ratings import certificates
from tests.support.factories import make_batch
from tests.support.flows import approved, close_notice, file_everything, notice_body, route
from tests.support.pdf import pdf_text
from tests.support.servers import worker
from tests.support import disk

pytestmark = pytest.mark.integration


@pytest.fixture()
def worker_env(app_env):
    return {**app_env, "SWEEP_INTERVAL_SECONDS": "1", "SWEEP_GRACE_SECONDS": "2"}


def wait_ready(api, token, numbers, timeout=120.0, log_dir=None) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    states = {}
    while time.monotonic() < deadline:
        states = {n: api.get(f"/ratings/{n}", token=token).get_json()["certificate"] for n in numbers}
        if all(s["state"] == "ready" for s in states.values()):
            return states
        time.sleep(0.2)
    logs = "".join(f"\n--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(log_dir.glob("*.log"))
                   ) if log_dir else ""
    raise AssertionError(f"certificates not ready in {timeout}s: {states}{logs}")


def test_closed_notice_to_downloaded_verified_and_revoked_certificate(api, batch, people, worker_env, log_dir):
    application_id, firm_token = approved(api, batch, people)
    _other, other_firm = api.register_firm("320402")
    name = api.get(f"/applications/{application_id}", token=firm_token).get_json()["enterprise_name"]
    [number] = close_notice(api, people, [application_id])
    assert api.get(f"/ratings/{number}", token=firm_token).get_json()["certificate"]["state"] == "pending"
    assert api.get(f"/ratings/{number}/certificate.pdf", token=firm_token).status_code == 409

    proc = worker(worker_env, log_dir)
    try:
        state = wait_ready(api, firm_token, [number], log_dir=log_dir)[number]
    finally:
        proc.stop()

    pdf = api.get(f"/ratings/{number}/certificate.pdf", token=firm_token)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert hashlib.sha256(pdf.data).hexdigest() == state["sha256"] and len(pdf.data) == state["size"]
    assert name in pdf_text(pdf.data).splitlines()
    assert api.get(f"/ratings/{number}/certificate.pdf", token=other_firm).status_code == 404
    assert api.get(f"/ratings/{number}/certificate.pdf", token=people["city"]).status_code == 403
    assert api.get(f"/ratings/{number}/certificate.pdf", token=people["other_city_official"]).status_code == 404
    assert api.get(f"/ratings/{number}/certificate.pdf", token=people["city_official"]).data == pdf.data
    assert api.get(f"/ratings/{number}/certificate.pdf").status_code == 401

    # The firm was told, once.
    db.session.rollback()
    ready_mail = db.session.execute(select(OutboxEmail).where(OutboxEmail.kind == "certificate_ready")).scalars().all()
    assert len({m.to_address for m in ready_mail}) == len(ready_mail) >= 1
    assert number in ready_mail[0].body

    verified = api.get(f"/verify/{number}").get_json()
    assert verified["status"] == "valid" and verified["enterprise_name"] == name

    # The public page tells whether a file is the one we issued.
    page = api.client.get(f"/verify/{number}")
    from tests.support.people import csrf_token

    token = csrf_token(page.text)
    same = api.client.post(f"/verify/{number}", data={"csrf_token": token, "file": (io.BytesIO(pdf.data), "c.pdf")},
                           content_type="multipart/form-data")
    assert same.status_code == 200 and "一致：该文件与发证机关签发的证书文件完全相同" in same.text
    altered = pdf.data.replace(b"%%EOF", b"%%EOF\n% edited")
    other = api.client.post(f"/verify/{number}", data={"csrf_token": token, "file": (io.BytesIO(altered), "c.pdf")},
                            content_type="multipart/form-data")
    assert other.status_code == 200 and "不一致" in other.text
    missing = api.client.post(f"/verify/{number}", data={"csrf_token": token}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "请选择证书 PDF 文件" in missing.text

    revoked = api.post(f"/ratings/{number}/revoke", {"reason": "材料造假"}, token=people["city_official"])
    assert revoked.status_code == 200
    after = api.get(f"/verify/{number}").get_json()
    assert after["status"] == "revoked" and after["status_changed_on"] == clock.today().isoformat()
    assert api.get(f"/ratings/{number}", token=people["city_official"]).get_json()["disbursement"] == "withheld"


def test_five_stars_supersede_four(api, people, app):
    from rating.services.review import scoring_runs
    from tests.support.flows import decide

    four, firm_token = approved(api, make_batch("js-2024"), people, level=4)
    [four_no] = close_notice(api, people, [four])
    enterprise_id = api.get(f"/applications/{four}", token=firm_token).get_json()["enterprise_id"]
    five = file_everything(api, firm_token, make_batch("js-2024"), 5)["id"]
    assert api.post(f"/applications/{five}/submit", {"pledge": True}, token=firm_token).status_code == 202
    assert scoring_runs.score_application(five) == "scored"
    route(five)
    for who, what in (("county", "forward"), ("city", "forward"), ("province", "approve")):
        response = decide(api, people[who], five, what)
        assert response.status_code == 201, response.get_json()
    [five_no] = close_notice(api, people, [five], official="province_official")

    lower, higher = api.get(f"/verify/{four_no}").get_json(), api.get(f"/verify/{five_no}").get_json()
    assert (lower["status"], lower["status_changed_on"]) == ("superseded", clock.today().isoformat())
    assert higher["status"] == "valid" and higher["level"] == 5
    assert "已被更高星级取代" in api.client.get(f"/verify/{four_no}").text
    ratings = db.session.execute(select(Rating).where(Rating.enterprise_id == enterprise_id,
                                                      Rating.certificate_no.is_not(None))).scalars().all()
    assert sorted((r.level, r.reward_yuan) for r in ratings) == [(4, 100000), (5, 150000)]
    assert all(db.session.get(Certificate, r.id) is not None for r in ratings)
    # The province's 5★ certificate names the department alone; the city's 4★ names both.
    from rating.services.ratings.certificate_pdf import issuers

    assert {r.level: issuers(r) for r in ratings} == {
        4: ["江苏省工业和信息化厅", "常州市工业和信息化局"], 5: ["江苏省工业和信息化厅"]}


def test_rendering_twice_keeps_one_file(api, batch, people):
    application_id, _firm = approved(api, batch, people)
    [number] = close_notice(api, people, [application_id])
    rating = db.session.execute(select(Rating).where(Rating.certificate_no == number)).scalar_one()
    assert certificates.render(rating.id) == "rendered"
    assert certificates.render(rating.id) == "current"
    folder = disk.certificate_folder(number)
    first = db.session.get(Certificate, rating.id).sha256
    assert [p.name for p in folder.iterdir()] == [f"{first}.pdf"]

    # Regenerated without a change: the same bytes, the same single file.
    asked = api.post(f"/ratings/{number}/certificate", token=people["city_official"])
    assert asked.status_code == 202 and asked.get_json()["requested_generation"] == 2
    assert asked.get_json()["certificate"]["state"] == "ready"          # the current file stays downloadable
    assert certificates.render(rating.id) == "rendered"
    db.session.expire_all()
    assert db.session.get(Certificate, rating.id).sha256 == first
    assert [p.name for p in folder.iterdir()] == [f"{first}.pdf"]

    # The certified name was corrected (the firm's own record does not reach a certificate):
    # a new file replaces the old one once it is complete.
    rating.certified_name = "常州更名后科技有限公司"
    db.session.commit()
    assert api.post(f"/ratings/{number}/certificate", token=people["city_official"]).status_code == 202
    detail = api.get(f"/ratings/{number}", token=people["city_official"]).get_json()["certificate"]
    assert detail == {"state": "ready", "sha256": first, "size": detail["size"]}   # the old one meanwhile
    assert certificates.render(rating.id) == "rendered"
    db.session.expire_all()
    second = db.session.get(Certificate, rating.id)
    assert second.sha256 != first and second.rendered_generation == second.requested_generation == 3
    assert [p.name for p in folder.iterdir()] == [f"{second.sha256}.pdf"]
    assert "常州更名后科技有限公司" in pdf_text((folder / f"{second.sha256}.pdf").read_bytes()).splitlines()


def test_a_render_reads_nothing_after_its_commit(api, batch, people):
    """The old files are removed after the commit by the number read before it: reading the
    rating after the commit loaded it again, one more round trip per certificate."""
    from sqlalchemy import event

    application_id, _firm = approved(api, batch, people)
    [number] = close_notice(api, people, [application_id])
    rating_id = db.session.execute(select(Rating.id).where(Rating.certificate_no == number)).scalar_one()
    db.session.commit()
    seen: list[str] = []

    def statement(_conn, _cursor, sql, *_args):
        seen.append(sql.split(None, 1)[0].upper())

    def commit(_conn):
        seen.append("COMMIT")

    event.listen(db.engine, "before_cursor_execute", statement)
    event.listen(db.engine, "commit", commit)
    try:
        assert certificates.render(rating_id) == "rendered"
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)
        event.remove(db.engine, "commit", commit)
    assert "UPDATE" in seen and seen[-1] == "COMMIT", seen
    assert db.session.get(Certificate, rating_id).state == "ready"


def test_unwritable_storage_fails_clearly_and_keeps_no_dangling_row(api, batch, people, app, tmp_path):
    application_id, _firm = approved(api, batch, people)
    [number] = close_notice(api, people, [application_id])
    rating_id = db.session.execute(select(Rating.id).where(Rating.certificate_no == number)).scalar_one()
    with disk.storage_blocked(app, tmp_path, "certificates"), pytest.raises(OSError):
        certificates.render(rating_id)
    db.session.expire_all()
    failed = db.session.get(Certificate, rating_id)
    assert failed.state == "failed" and failed.sha256 is None and "Error" in failed.last_error
    body = api.get(f"/ratings/{number}", token=people["city_official"]).get_json()["certificate"]
    assert body == {"state": "failed", "sha256": None, "size": None}
    assert api.get(f"/ratings/{number}/certificate.pdf", token=people["city_official"]).status_code == 409
    # An official asks again once storage is back: it renders.
    assert api.post(f"/ratings/{number}/certificate", token=people["city_official"]).status_code == 202
    assert certificates.render(rating_id) == "rendered"


def test_pool_child_killed_mid_render_ends_with_a_complete_certificate(api, batch, people, worker_env, log_dir):
    # Storage lives as long as the test session while each test's numbers start again at 1:
    # files an earlier test left under these numbers are not this test's. (A render killed
    # after its commit leaves the folder's older files in place, and they would count.)
    root = storage.storage_root() / "certificates"
    shutil.rmtree(root, ignore_errors=True)
    ids = [approved(api, batch, people)[0] for _ in range(6)]
    numbers = close_notice(api, people, ids)
    proc = worker(worker_env, log_dir, concurrency=1)
    killed = False
    try:
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            # A temporary file exists only while a child writes a certificate: kill it then.
            if any(root.glob("*/.render-*")):
                mains = psutil.Process(proc.process.pid).children()
                for child in mains[0].children(recursive=True) if mains else []:
                    child.send_signal(signal.SIGKILL)
                    killed = True
            time.sleep(0.001)
        assert killed, "no render was caught in progress"
        states = wait_ready(api, people["city_official"], numbers, log_dir=log_dir)
    finally:
        proc.stop()
    for number, state in states.items():
        files = [p for p in disk.certificate_folder(number).iterdir() if not p.name.startswith(".")]
        assert [p.name for p in files] == [f"{state['sha256']}.pdf"]
        data = files[0].read_bytes()
        assert hashlib.sha256(data).hexdigest() == state["sha256"] and data.rstrip().endswith(b"%%EOF")
    log = proc.log_path.read_text(errors="replace")
    assert "WorkerLostError" in log or "signal 9" in log, "the render was not interrupted"


def test_batch_regeneration_progress(api, batch, people, worker_env, log_dir):
    ids = [approved(api, batch, people)[0] for _ in range(3)]
    notice_id = api.post("/publicity-notices", notice_body(ids), token=people["city_official"]).get_json()["id"]
    assert api.post(f"/publicity-notices/{notice_id}/close", token=people["city_official"]).status_code == 200
    db.session.rollback()
    assert certificates.notice_progress(notice_id).as_json() == {"total": 3, "done": 0, "failed": 0,
                                                                  "finished": False}
    proc = worker(worker_env, log_dir)
    try:
        deadline = time.monotonic() + 90
        while not certificates.notice_progress(notice_id).finished:
            assert time.monotonic() < deadline, proc.output()
            db.session.rollback()
            time.sleep(0.2)
        assert certificates.notice_progress(notice_id).done == 3
        from rating.models import PublicityNotice, User

        official = db.session.execute(select(User).where(User.role == "official", User.jurisdiction_code == "320400")
                                      ).scalar_one()
        assert certificates.request_for_notice(official, db.session.get(PublicityNotice, notice_id)) == 3
        db.session.commit()
        assert certificates.notice_progress(notice_id).done == 0
        while not certificates.notice_progress(notice_id).finished:
            assert time.monotonic() < deadline + 60, proc.output()
            db.session.rollback()
            time.sleep(0.2)
    finally:
        proc.stop()
    db.session.rollback()
    rows = db.session.execute(select(Certificate)).scalars().all()
    assert {(c.state, c.rendered_generation, c.requested_generation) for c in rows} == {("ready", 2, 2)}


def test_disbursement_is_recorded_by_officials_in_scope(api, batch, people):
    application_id, firm_token = approved(api, batch, people)
    [number] = close_notice(api, people, [application_id])
    body = api.get(f"/ratings/{number}", token=firm_token).get_json()
    assert (body["reward_yuan"], body["disbursement"], body["disbursed_on"]) == (50000, "due", None)
    path = f"/ratings/{number}/disbursement"
    assert api.post(path, {"state": "paid", "disbursed_on": "2026-01-01"}, token=firm_token).status_code == 403
    assert api.post(path, {"state": "paid", "disbursed_on": "2026-01-01"},
                    token=people["other_city_official"]).status_code == 404
    missing = api.post(path, {"state": "paid"}, token=people["city_official"])
    assert missing.status_code == 422 and "disbursed_on" in missing.get_json()["error"]["fields"]
    assert api.post(path, {"state": "sent"}, token=people["city_official"]).status_code == 422
    assert api.post(path, {"state": "paid", "disbursed_on": "2026-13-01"},
                    token=people["city_official"]).status_code == 422
    today = clock.today().isoformat()
    paid = api.post(path, {"state": "paid", "disbursed_on": today, "note": "财政已拨付"}, token=people["city_official"])
    assert paid.status_code == 200 and (paid.get_json()["disbursement"], paid.get_json()["disbursed_on"]) == (
        "paid", today)
    # Paid stays paid when the rating is revoked later (recovering money is outside the system).
    api.post(f"/ratings/{number}/revoke", {"reason": "x"}, token=people["city_official"])
    assert api.get(f"/ratings/{number}", token=firm_token).get_json()["disbursement"] == "paid"
    from rating.models import AuditEntry

    actions = db.session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars().all()
    assert "rating.disbursement" in actions and actions[-1] == "rating.revoke"


def test_a_lost_file_is_rendered_again(api, batch, people):
    application_id, _firm = approved(api, batch, people)
    [number] = close_notice(api, people, [application_id])
    rating_id = db.session.execute(select(Rating.id).where(Rating.certificate_no == number)).scalar_one()
    assert certificates.render(rating_id) == "rendered"
    sha = db.session.get(Certificate, rating_id).sha256
    disk.certificate_path(number, sha).unlink()
    assert certificates.render(rating_id) == "rendered"
    db.session.expire_all()
    again = db.session.get(Certificate, rating_id)
    assert again.rendered_generation == again.requested_generation == 2 and again.sha256 == sha
    assert disk.certificate_path(number, sha).exists()


def test_render_jobs_are_bounded_in_time_and_memory(app):
    from workers.tasks import render_certificate

    celery = app.extensions["celery"]
    assert celery.conf.worker_max_memory_per_child == 300 * 1024
    assert (render_certificate.soft_time_limit, render_certificate.time_limit) == (60, 90)
    assert render_certificate.acks_late and render_certificate.reject_on_worker_lost
