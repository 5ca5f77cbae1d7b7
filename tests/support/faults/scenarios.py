"""The fault scenarios of docs/reliability.md, sized by their callers: the tests run them
small (tests/platform/test_faults.py), `python -m bench.faults` at full size.

Each runs in an app context of the app under test, against real gunicorn, beat and worker
processes started with `env`, and returns its figures: requests by outcome, `errors`
(requests that did not get the answer the scenario allows), the faults injected, and the
ledger's `lost` and `duplicates`.
"""
from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select, text

from rating import clock
from rating.extensions import db
from rating.models import Rating
from tests.support.factories import PDF_BYTES, make_batch
from tests.support.faults.http import Http, Reply, parallel
from tests.support.faults.ledger import (
    application_shape,
    certificates_settled,
    fresh_view,
    ledger,
    mail_settled,
    status_counts,
    wait_until,
)
from tests.support.faults.processes import Killer, Stack
from tests.support.faults.seed import FilingPlan, seed_firms, seed_staff

RETRY_MESSAGE = "数据库暂时不可用"


def all_scored(ids):
    """Every application scored (and perhaps further along)."""
    def scored() -> bool:
        counts = status_counts(ids)
        return sum(counts.values()) - counts["draft"] - counts["submitted"] >= len(ids)

    return scored


def unexpected(replies: list[Reply], expected: dict[str, int]) -> int:
    return sum(1 for r in replies if r.name in expected and r.status != expected[r.name])


def review_and_grant(http: Http, staff: dict, firms, threads: int = 4, per_notice: int = 100) -> list[int]:
    """County forwards, city approves, the city official publishes notices and closes them."""
    parallel(lambda f: forward(http, staff, f), firms, threads)
    parallel(lambda f: http.decide(staff["city"], f.application_id, "approve"), firms, threads)
    today, official = clock.today().isoformat(), staff["city_official"]
    for start in range(0, len(firms), per_notice):
        listed = [f.application_id for f in firms[start:start + per_notice]]
        notice = http.call("notice", "POST", "/api/v1/publicity-notices", official,
                           json={"title": "故障演练拟认定名单公示", "starts_on": today, "ends_on": today,
                                 "application_ids": listed})
        if notice.status == 201:
            http.call("close", "POST", f"/api/v1/publicity-notices/{notice.body['id']}/close", official)
    fresh_view()
    return list(db.session.execute(select(Rating.id).where(
        Rating.application_id.in_([f.application_id for f in firms]))).scalars())


def forward(http: Http, staff: dict, firm) -> Reply:
    return http.decide(staff[f"county:{firm.district}"], firm.application_id, "forward")


def job_counts(stack: Stack) -> dict[str, int]:
    """From the workers' logs: jobs a SIGKILL interrupted while they ran (Celery logs each
    as a lost worker), and how many scoring and render jobs ran to the end (beyond one per
    application or certificate they are the sweepers' repeats, which find nothing to do)."""
    lines = [line for path in stack.log_dir.glob("worker*.log")
             for line in path.read_text(errors="replace").splitlines()]

    def count(*parts: str) -> int:
        return sum(1 for line in lines if all(part in line for part in parts))

    return {"tasks_interrupted": count("Task handler raised error: WorkerLostError"),
            "score_jobs_run": count("workers.tasks.score_application[", " succeeded in "),
            "render_jobs_run": count("workers.tasks.render_certificate[", " succeeded in ")}


# --- 1. workers killed ------------------------------------------------------------------

def workers_sigkilled(env, log_dir, smtp, submissions: int = 120, granted: int = 40, rate: float = 6.0,
                      kill_every: float = 2.5, workers: int = 2, concurrency: int = 2,
                      timeout: float = 300.0) -> dict:
    """Submissions at `rate` a second, then `granted` of them reviewed, approved and
    certified, while a worker loses its pool children or its main process every
    `kill_every` seconds."""
    smtp.clear()
    batch = make_batch()
    staff = seed_staff()
    firms = seed_firms(batch, submissions)
    ids = [f.application_id for f in firms]
    with Stack(env, log_dir, workers=workers, concurrency=concurrency) as stack:
        http = Http(stack.url)
        killer = Killer(stack.workers, interval=kill_every)
        killer.start()
        started, phases = time.monotonic(), {}
        try:
            parallel(http.submit, firms, rate=rate)
            wait_until(all_scored(ids), timeout, lambda: f"{status_counts(ids)}{stack.logs()}")
            phases["all_scored_s"] = round(time.monotonic() - started, 1)
            rating_ids = review_and_grant(http, staff, firms[:granted])
            wait_until(lambda: certificates_settled(rating_ids), timeout,
                       lambda: f"{ledger(ids, rating_ids)}{stack.logs()}")
            phases["all_rendered_s"] = round(time.monotonic() - started, 1)
        finally:
            kills = killer.stop()
        wait_until(mail_settled, timeout, lambda: f"{ledger(ids)}{stack.logs()}")
        phases["all_mailed_s"] = round(time.monotonic() - started, 1)
        jobs = job_counts(stack)
    expected = {"submit": 202, "application": 200, "decide:forward": 201, "decide:approve": 201,
                "notice": 201, "close": 200}
    return {"scenario": "workers SIGKILLed", **kills, **jobs, **phases,
            "errors": unexpected(http.replies, expected), "requests": http.by_status(),
            **ledger(ids, rating_ids, smtp.messages)}


def settle(ids, stack: Stack, timeout: float) -> str | None:
    """Until every application is scored and with a reviewer, and every email is sent;
    what was still missing after `timeout` (the ledger then counts it as lost)."""
    def describe() -> str:
        return f"{ledger(ids)}{stack.logs(1000)}"

    try:
        wait_until(all_scored(ids), timeout, describe)
        wait_until(lambda: ledger(ids)["in_review_unassigned"] == 0, timeout, describe)
        wait_until(mail_settled, timeout, describe)
    except AssertionError as exc:
        return str(exc)[-4000:]
    return None


# --- 2. Redis stopped -------------------------------------------------------------------

def redis_outage(env, log_dir, redis_server, smtp, firms: int = 100, newcomers: int = 10,
                 outage: float = 10.0, timeout: float = 240.0) -> dict:
    """Redis stops for `outage` seconds (every queued message with it: it keeps nothing on
    disk) while 40 % of the firms submit, `newcomers` file from scratch and county reviewers
    forward the applications submitted before; the rest submit once it is back."""
    smtp.clear()
    batch = make_batch()
    staff = seed_staff()
    drafts = seed_firms(batch, firms)
    fresh = seed_firms(batch, newcomers, drafts=False)
    plan = FilingPlan.good(batch)
    third, seventh = firms * 3 // 10, firms * 7 // 10
    before, during, after = drafts[:third], drafts[third:seventh], drafts[seventh:]
    with Stack(env, log_dir, workers=1, concurrency=2) as stack:
        http = Http(stack.url)
        parallel(http.submit, before)
        wait_until(all_scored([f.application_id for f in before]), timeout, stack.logs)
        redis_server.stop()
        down_at = time.monotonic()
        try:
            health = http.call("healthz", "GET", "/healthz")
            # Firms submit, newcomers file from scratch and reviewers forward, all at once.
            _s, filed, _f = parallel(lambda work: work(), [
                lambda: parallel(http.submit, during, threads=2, rate=len(during) / (0.8 * outage)),
                lambda: parallel(lambda f: http.file_new(f, plan), fresh, threads=2),
                lambda: parallel(lambda f: forward(http, staff, f), before, threads=2),
            ], threads=3)
            busy = time.monotonic() - down_at
            time.sleep(max(0.0, outage - busy))
        finally:
            stopped_for = time.monotonic() - down_at
            redis_server.start()
        parallel(http.submit, after)
        ids = [f.application_id for f in drafts] + [r[0].body["id"] for r in filed if r[0].status == 201]
        # Forwarded ones reach a city reviewer; every email goes out.
        unsettled = settle(ids, stack, timeout)
        time.sleep(3)   # a repeat would arrive now: a second flush of a message already sent
    answered = [r for r in http.replies if r.name != "healthz"]
    expected = {"submit": 202, "create": 201, "evidence": 201, "application": 200, "decide:forward": 201}
    return {"scenario": "Redis stopped", "outage_s": round(stopped_for, 1),
            "requests_while_down_s": round(busy, 1), "health_while_down": [health.status, health.body],
            "errors": unexpected(http.replies, expected),
            "never_filed": newcomers - (len(ids) - firms),
            "slowest_request_s": round(max(r.seconds for r in answered), 2),
            "requests": http.by_status(), "unsettled": unsettled, **ledger(ids, smtp_messages=smtp.messages)}


# --- 3. PostgreSQL restarted ------------------------------------------------------------

def persistently(attempt, pause: float = 0.3, limit: float = 120.0) -> list[Reply]:
    """What a firm's browser or script does with a 503, or with no answer at all: waits
    and sends it again."""
    replies, deadline = [], time.monotonic() + limit
    while True:
        replies.append(attempt())
        if replies[-1].status not in (0, 503) or time.monotonic() > deadline:
            return replies
        time.sleep(pause)


def file_through_outage(http: Http, firm, plan: FilingPlan) -> tuple[int | None, list[Reply]]:
    """Create (or find it, when the create committed but its answer was lost), upload, submit."""
    log = persistently(lambda: http.call("create", "POST", "/api/v1/applications", firm.token,
                                         json=plan.body))
    if log[-1].status == 201:
        application_id = log[-1].body["id"]
    else:
        mine = persistently(lambda: http.call("list", "GET", "/api/v1/applications", firm.token))
        log += mine
        items = mine[-1].body["items"] if mine[-1].status == 200 else []
        if not items:
            return None, log
        application_id = items[0]["id"]
    for code in plan.evidence_codes:
        log += persistently(lambda code=code: http.call(
            "evidence", "POST", f"/api/v1/applications/{application_id}/evidence", firm.token,
            data={"indicator_code": code},
            files={"file": ("证明.pdf", io.BytesIO(PDF_BYTES), "application/pdf")}))
    log += persistently(lambda: http.call("submit", "POST", f"/api/v1/applications/{application_id}/submit",
                                          firm.token, json={"pledge": True}))
    return application_id, log


def clean_503(reply: Reply) -> bool:
    """A 503 the way API.md wants it: retryable, Chinese, the envelope or a readable page."""
    if reply.headers.get("Retry-After") != "5" or "Traceback" in reply.text:
        return False
    if reply.headers.get("Content-Type", "").startswith("text/html"):
        return RETRY_MESSAGE in reply.text and "<h1>" in reply.text
    return reply.error_code == "unavailable" and RETRY_MESSAGE in reply.body["error"]["message"]


def postgres_restart(env, log_dir, postgres, smtp, drafts: int = 60, newcomers: int = 30,
                     restarts: tuple = (("fast", 1.5, 5.0),), submit_rate: float = 5.0,
                     file_rate: float = 3.0, timeout: float = 240.0) -> dict:
    """PostgreSQL stops (mode, seconds into the load, seconds down) while firms submit drafts,
    newcomers file from scratch (retrying each 503 as a browser would) and public pages
    are read."""
    smtp.clear()
    durable_commits(True)
    try:
        return _postgres_restart(env, log_dir, postgres, smtp, drafts, newcomers, restarts, submit_rate, file_rate,
                                 timeout)
    finally:
        durable_commits(False)


def durable_commits(on: bool) -> None:
    """The test servers run with `synchronous_commit=off` (and fsync off) for speed: a crash
    (an immediate shutdown) then loses transactions already acknowledged, which is that
    setting's bargain, not the application's doing. For this scenario the database commits
    as in production; new sessions (the web and worker processes) take it up."""
    fresh_view()
    name = db.session.execute(text("SELECT current_database()")).scalar_one()
    statement = f'ALTER DATABASE "{name}" SET synchronous_commit = on' if on else \
        f'ALTER DATABASE "{name}" RESET synchronous_commit'
    db.session.execute(text(statement))
    db.session.commit()


def _postgres_restart(env, log_dir, postgres, smtp, drafts, newcomers, restarts, submit_rate, file_rate,
                      timeout) -> dict:
    batch = make_batch()
    seed_staff()
    ready = seed_firms(batch, drafts)
    fresh = seed_firms(batch, newcomers, drafts=False)
    plan = FilingPlan.good(batch)
    db.session.commit()   # hold no connection of ours across the restart
    outages = []
    with Stack(env, log_dir, workers=1, concurrency=2) as stack:
        http = Http(stack.url, timeout=30)
        reading = threading.Event()

        def read_pages():
            while not reading.is_set():
                http.call("page", "GET", "/publicity")
                http.call("batches", "GET", "/api/v1/batches")
                time.sleep(0.05)

        def restart():
            started = time.monotonic()
            for mode, at, down in restarts:
                time.sleep(max(0.0, started + at - time.monotonic()))
                stopped = time.monotonic()
                postgres.stop(mode)
                time.sleep(down)
                postgres.start()
                outages.append({"mode": mode, "down_s": round(time.monotonic() - stopped, 1)})

        with ThreadPoolExecutor(max_workers=3) as pool:
            reader, outage = pool.submit(read_pages), pool.submit(restart)
            submitting = pool.submit(parallel, lambda f: persistently(lambda: http.submit(f)), ready, 3,
                                     submit_rate)
            filed = parallel(lambda f: file_through_outage(http, f, plan), fresh, threads=3, rate=file_rate)
            outage.result()
            submitted = submitting.result()
            reading.set()
            reader.result()
        after = parallel(lambda _n: http.call("after", "GET", "/api/v1/batches"), range(20))
        ids = [f.application_id for f in ready] + [i for i, _log in filed if i is not None]
        unsettled = settle(ids, stack, timeout)
        unhandled = stack.web.log_path.read_text(errors="replace").count("unhandled error")
    # A retry finds its work already done when the commit went through but the database
    # went away before the answer was made: the create then answers 422 "already filed"
    # (the firm finds it in its list), the submit 409 "already submitted".
    logs = list(submitted) + [log for _id, log in filed]
    found_done = sum(1 for log in logs for before, reply in zip(log, log[1:])
                     if before.status in (0, 503) and reply.status in (409, 422))
    errors = sum(1 for r in http.replies if r.status not in (200, 201, 202, 409, 422, 503))
    errors += sum(1 for log in logs for before, reply in zip([None, *log], log)
                  if reply.status in (409, 422) and (before is None or before.status not in (0, 503)))
    errors += sum(1 for r in http.replies if r.status == 503 and not clean_503(r))
    draft_ids = {f.application_id for f in ready}
    half_written = 0
    for application_id in ids:
        shape = application_shape(application_id)
        history = {"submit": 1, "scored": 1} if application_id in draft_ids else {
            "create": 1, "submit": 1, "scored": 1}
        half_written += (shape["services"], shape["payments"], shape["history"]) != (2, 2, history)
    unavailable = [r for r in http.replies if r.status == 503]
    no_answer = [f"{r.name}: {r.text[:200]}" for r in http.replies if r.status == 0]
    refused = [f"{r.name} {r.status}: {r.text[:300]}" for log in logs for r in log if r.status not in (0, 200, 201, 202, 503)]
    return {"scenario": "PostgreSQL restarted", "no_answer": len(no_answer), "no_answer_samples": no_answer[:5],
            "refused_samples": refused[:10], "outages": outages, "requests_total": len(http.replies),
            "answered_503": len(unavailable),
            "answered_503_pages": sum(1 for r in unavailable if r.name == "page"),
            "retry_found_it_done": found_done, "errors": errors + unhandled,
            "unhandled_errors_logged": unhandled,
            "never_filed": sum(1 for application_id, _log in filed if application_id is None),
            "pool_recovered": [r.status for r in after] == [200] * len(after), "half_written": half_written,
            "slowest_request_s": round(max(r.seconds for r in http.replies), 2),
            "requests": http.by_status(), "unsettled": unsettled, **ledger(ids, smtp_messages=smtp.messages)}
