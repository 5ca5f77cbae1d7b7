"""A deadline day, replayed: firms log in, save drafts, upload evidence and submit, all
within a window, while reviewers work their queues; gunicorn and Celery workers as in
production, on PostgreSQL and Redis of our own.

    .venv/bin/python -m bench.deadline [--firms 2000] [--seconds 600] [--reviewers 50]
                                       [--web-workers 2] [--web-threads 4] [--celery 2]
                                       [--reviewer-arrival 60] [--scale] [--pg-stats]

Reports requests per second, p50/p99 and errors per endpoint, the cores each part kept
busy while the firms filed, and the end state (every submission scored, nothing lost). `--scale` runs again with twice the web and worker
processes, to show how the figures move. Writes bench/results/deadline.json.
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import secrets
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from bench.common import RESULTS, Connection, cpu_seconds, cpu_share, environment, summary
from tests.support.factories import PASSWORD, PDF_BYTES
from tests.support.servers import free_port, web, worker

COUNTIES = ["320402", "320411", "320412", "320413", "320481", "320102", "320104", "320105", "320106", "320111"]


def _reason(exc: Exception) -> str:
    """The innermost cause of a request that got no answer (a time-out, a reset, a refusal)."""
    while exc.__context__ is not None and not isinstance(exc, (TimeoutError, ConnectionError)):
        exc = exc.__context__
    return type(exc).__name__


class Recorder:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.sent_at: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.failures: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.lock = threading.Lock()

    def call(self, name: str, client: "Client", method: str, path: str, *, json_body=None,
             upload: tuple[dict, tuple[str, bytes, str]] | None = None, expect=(200, 201, 202)):
        """(status, parsed JSON body or None); status 0 when no answer came."""
        started = time.perf_counter()
        try:
            status, data = client.send(method, path, json_body=json_body, upload=upload)
        except (OSError, http.client.HTTPException) as exc:
            status, data = 0, b""
            with self.lock:
                self.failures[name][_reason(exc)] += 1
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies[name].append(elapsed)
            self.sent_at[name].append(started)
            self.statuses[name][status] += 1
            if status not in expect:
                self.errors[name] += 1
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, None

    def report(self, seconds: float, origin: float, settle: float = 30.0) -> dict:
        """Per endpoint; `p99_after_settle_ms` leaves out the requests sent in the first
        `settle` seconds, when the reviewers' logins (a password check each) arrive."""
        def later(name: str) -> list[float]:
            return [v for v, at in zip(self.latencies[name], self.sent_at[name]) if at - origin >= settle]

        return {name: {"requests": len(values), "per_s": round(len(values) / seconds, 2),
                       "errors": self.errors[name], **summary(values),
                       **({"p99_after_settle_ms": summary(later(name))["p99_ms"]} if later(name) else {}),
                       "statuses": dict(self.statuses[name]),
                       **({"no_answer": dict(self.failures[name])} if self.failures[name] else {})}
                for name, values in sorted(self.latencies.items())}

    def p99_by_window(self, origin: float, window: float = 30.0) -> list[float]:
        """p99 (ms) of every request sent in each `window` seconds of the run, in order."""
        buckets: dict[int, list[float]] = defaultdict(list)
        for name, values in self.latencies.items():
            for value, at in zip(values, self.sent_at[name]):
                buckets[int((at - origin) // window)].append(value)
        return [summary(buckets[n])["p99_ms"] for n in sorted(buckets)]


def _seed(app, firms: int, reviewers: int):
    """Firms (registered, no application yet) and county reviewers, with the login password."""
    from rating.extensions import db
    from rating.models import Enterprise, User
    from rating.rules.uscc import uscc_from_serial
    from tests.support.factories import make_batch, password_hash

    with app.app_context():
        batch = make_batch("js-2024", closes_in_days=1)
        hashed = password_hash()
        emails = []
        for n in range(firms):
            code = COUNTIES[n % len(COUNTIES)]
            firm = Enterprise(name=f"截止日企业{n}有限公司", uscc=uscc_from_serial(500_000 + n, division=code),
                              district_code=code, industry="C", scale="small", contact_name="联系人",
                              contact_phone="13800000000", email=f"firm{n}@deadline.test")
            db.session.add(firm)
            db.session.flush()
            db.session.add(User(email=f"firm{n}@deadline.test", password_hash=hashed, name="联系人",
                                role="enterprise", enterprise_id=firm.id))
            emails.append(f"firm{n}@deadline.test")
        staff = []
        for n in range(reviewers):
            email = f"reviewer{n}@deadline.test"
            db.session.add(User(email=email, password_hash=hashed, name=f"审核员{n}", role="reviewer",
                                jurisdiction_code=COUNTIES[n % len(COUNTIES)]))
            staff.append(email)
        db.session.commit()
        from tests.support.factories import good_application
        from rating.services.reference import get_edition

        body = good_application(batch, 3)
        evidence = [i.code for i in get_edition(batch.edition_code).indicators_for(3) if i.evidence_required]
        return batch.id, emails, staff, body, evidence


class Client:
    """One user agent: a keep-alive connection from an address of its own, the bearer token
    once logged in. Costs the shared 2 cores about a third of what `requests` did per
    request (bench.common.Connection); like a browser, it sends a GET again when the
    server had just closed the kept-alive connection, and never a write."""

    def __init__(self, base: str) -> None:
        self.connection = Connection(base)
        self.headers: dict[str, str] = {}

    def send(self, method: str, path: str, json_body=None, upload=None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif upload is not None:
            body, headers["Content-Type"] = _multipart(*upload)
        return self.connection.request(method, path, body, headers)

    def close(self) -> None:
        self.connection.close()


def _multipart(fields: dict[str, str], file: tuple[str, bytes, str]) -> tuple[bytes, str]:
    """A form with one file, as a browser encodes it (a fresh boundary each time, the file
    name in UTF-8)."""
    boundary = "----deadline" + secrets.token_hex(12)
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    filename, content, media_type = file
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: {media_type}\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _firm(base: str, email: str, body: dict, evidence: list[str], rec: Recorder) -> bool:
    client = Client(base)
    try:
        status, login = rec.call("POST /tokens", client, "POST", "/api/v1/tokens",
                                 json_body={"email": email, "password": PASSWORD})
        if status != 201:
            return False
        client.headers["Authorization"] = f"Bearer {login['token']}"
        draft = dict(body, answers=dict(list(body["answers"].items())[: len(body["answers"]) // 2]))
        status, created = rec.call("POST /applications", client, "POST", "/api/v1/applications", json_body=draft)
        if status != 201:
            return False
        path = f"/api/v1/applications/{created['id']}"
        rec.call("PATCH /applications/<id>", client, "PATCH", path, json_body=body)
        rec.call("GET /applications/<id>", client, "GET", path)
        for code in evidence:
            rec.call("POST /applications/<id>/evidence", client, "POST", f"{path}/evidence",
                     upload=({"indicator_code": code}, ("证明材料.pdf", PDF_BYTES, "application/pdf")))
        status, _ = rec.call("POST /applications/<id>/submit", client, "POST", f"{path}/submit",
                             json_body={"pledge": True})
        return status == 202
    finally:
        client.close()


def _reviewer(base: str, email: str, stop: threading.Event, rec: Recorder, arrives_after: float = 0.0) -> int:
    if stop.wait(arrives_after):
        return 0
    client = Client(base)
    try:
        status, login = rec.call("POST /tokens (reviewer)", client, "POST", "/api/v1/tokens",
                                 json_body={"email": email, "password": PASSWORD})
        if status != 201:
            return 0
        client.headers["Authorization"] = f"Bearer {login['token']}"
        decided = 0
        while not stop.is_set():
            status, items = rec.call("GET /reviews/queue", client, "GET", "/api/v1/reviews/queue")
            if status != 200 or not items:
                stop.wait(2.0)
                continue
            path = f"/api/v1/applications/{items[0]['application_id']}"
            status, shown = rec.call("GET /applications/<id> (reviewer)", client, "GET", path)
            if status != 200 or shown is None:
                continue
            status, _ = rec.call("POST /applications/<id>/decisions", client, "POST", f"{path}/decisions",
                                 json_body={"decision": "forward", "comment": "材料齐全", "version": shown["version"]},
                                 expect=(201, 409))        # a colleague deciding first is expected, not an error
            decided += status == 201
            stop.wait(random.uniform(0.5, 2.0))        # reading the application
        return decided
    finally:
        client.close()


def _state(app) -> dict:
    from sqlalchemy import func, select

    from rating.extensions import db
    from rating.models import Application, ApplicationScore

    with app.app_context():
        by_status = {status: n for status, n in db.session.execute(
            select(Application.status, func.count()).group_by(Application.status))}
        scores = db.session.execute(select(func.count()).select_from(ApplicationScore)).scalar_one()
        scored_apps = db.session.execute(select(func.count(func.distinct(ApplicationScore.application_id)))).scalar_one()
        db.session.remove()
    return {"applications_by_status": by_status, "score_rows": scores, "applications_scored": scored_apps}


# With --pg-stats: PostgreSQL keeps per-statement times, and logs each autovacuum.
_PG_STATS = {"shared_preload_libraries": "pg_stat_statements", "log_autovacuum_min_duration": "0"}
_TOP_STATEMENTS = text("""
    SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query, calls,
           round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 2) AS mean_ms,
           round(max_exec_time::numeric, 1) AS max_ms, rows
    FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15""")
_TABLES = text("""
    SELECT relname, n_live_tup, n_dead_tup, n_tup_hot_upd, autovacuum_count, autoanalyze_count
    FROM pg_stat_user_tables WHERE n_tup_upd + n_tup_del > 0 ORDER BY n_dead_tup DESC LIMIT 10""")


def _sql(app, statement, **params) -> list[dict]:
    from rating.extensions import db

    with app.app_context():
        result = db.session.execute(statement, params)
        rows = [dict(row._mapping) for row in result] if result.returns_rows else []
        db.session.commit()
        db.session.remove()
    return [{k: (float(v) if hasattr(v, "as_tuple") else v) for k, v in row.items()} for row in rows]


class Sampler(threading.Thread):
    """Every `window` seconds: the cores each part kept busy, and the largest resident
    memory of a web and of a worker process (MB), to see what grows during a run."""

    def __init__(self, window: float = 30.0) -> None:
        super().__init__(daemon=True)
        self.window, self.samples, self.halt = window, [], threading.Event()

    @staticmethod
    def _rss() -> dict[str, float]:
        import psutil

        largest: dict[str, float] = {}
        for process in psutil.process_iter(["cmdline", "memory_info"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            part = "web" if "gunicorn" in cmdline else "workers" if "celery" in cmdline else None
            if part and process.info["memory_info"]:
                largest[part] = max(largest.get(part, 0.0), process.info["memory_info"].rss / 2**20)
        return {f"{part}_rss_mb": round(mb) for part, mb in largest.items()}

    def run(self) -> None:
        before = cpu_seconds()
        while not self.halt.wait(self.window):
            after = cpu_seconds()
            self.samples.append({**cpu_share(before, after, self.window), **self._rss()})
            before = after


def replay(firms: int, seconds: float, reviewers: int, web_workers: int, celery: int, threads: int = 4,
           arrival: float = 60.0, pg_stats: bool = False) -> dict:
    with environment(f"deadline{web_workers}", _PG_STATS if pg_stats else None) as (app, env, _redis, instance):
        if pg_stats:
            _sql(app, text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
        batch_id, emails, staff, body, evidence = _seed(app, firms, reviewers)
        body = dict(body, batch_id=batch_id)
        port = free_port()
        server = web(env, instance, port, workers=web_workers, threads=threads)
        scorers = [worker(env, instance, name=f"w{n}", concurrency=2) for n in range(max(1, celery // 2))]
        base = f"http://127.0.0.1:{port}"
        rec, stop = Recorder(), threading.Event()
        sampler = Sampler()
        try:
            Connection(base).request("GET", "/hello")
            if pg_stats:
                _sql(app, text("SELECT pg_stat_statements_reset()"))
            cpu_before = cpu_seconds()
            started = time.perf_counter()
            sampler.start()
            with ThreadPoolExecutor(len(staff)) as desks:
                # Reviewers come to their desks over the first `arrival` seconds, not all
                # in the same instant (50 password checks at once were the run's worst tail).
                working = [desks.submit(_reviewer, base, email, stop, rec, arrival * n / len(staff))
                           for n, email in enumerate(staff)]
                try:
                    with ThreadPoolExecutor(48) as pool:
                        def scheduled(n: int, email: str) -> bool:
                            delay = started + seconds * n / firms - time.perf_counter()
                            if delay > 0:
                                time.sleep(delay)
                            return _firm(base, email, body, evidence, rec)

                        outcomes = list(pool.map(scheduled, range(firms), emails))
                    filing_seconds = time.perf_counter() - started
                    cores = cpu_share(cpu_before, cpu_seconds(), filing_seconds)
                    sampler.halt.set()
                    database = ({"top_statements": _sql(app, _TOP_STATEMENTS), "tables": _sql(app, _TABLES)}
                                if pg_stats else {})
                    # Let the workers catch up, then stop the reviewers.
                    deadline = time.time() + 120
                    while time.time() < deadline and _state(app)["applications_scored"] < sum(outcomes):
                        time.sleep(2)
                finally:
                    stop.set()          # the reviewers leave whatever happened
                decided = sum(f.result() for f in working)
            elapsed = time.perf_counter() - started
        finally:
            for proc in scorers:
                proc.stop()
            server.stop()
        state = _state(app)
    endpoints = rec.report(filing_seconds, started)
    total_requests = sum(e["requests"] for e in endpoints.values())
    total_errors = sum(e["errors"] for e in endpoints.values())
    return {"firms": firms, "window_seconds": seconds, "reviewers": reviewers,
            "reviewers_arrive_over_s": arrival, "gunicorn": f"{web_workers} workers × {threads} threads",
            "celery_processes": max(1, celery // 2) * 2,
            "submitted": sum(outcomes), "filing_seconds": round(filing_seconds, 1), "elapsed": round(elapsed, 1),
            "decisions": decided, "requests": total_requests, "errors": total_errors,
            "error_rate": round(total_errors / max(total_requests, 1), 4),
            "worst_p99_ms": max(e["p99_ms"] for e in endpoints.values()),
            "worst_p99_after_settle_ms": max(e.get("p99_after_settle_ms", 0) for e in endpoints.values()),
            "p99_ms_by_30_s": rec.p99_by_window(started),
            "cores_busy_while_filing": cores, "by_30_s": sampler.samples, **database,
            "endpoints": endpoints, "end_state": state,
            "lost": sum(outcomes) - state["applications_scored"],
            "duplicate_scores": state["score_rows"] - state["applications_scored"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--celery", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4, help="threads per gunicorn worker (Procfile: 4)")
    parser.add_argument("--reviewer-arrival", type=float, default=60.0,
                        help="seconds over which the reviewers log in (0: all at once)")
    parser.add_argument("--scale", action="store_true", help="run again with twice the processes")
    parser.add_argument("--pg-stats", action="store_true",
                        help="report PostgreSQL's costliest statements and dead rows (pg_stat_statements)")
    args = parser.parse_args()
    runs = [replay(args.firms, args.seconds, args.reviewers, args.web_workers, args.celery, args.web_threads,
                   args.reviewer_arrival, args.pg_stats)]
    if args.scale:
        runs.append(replay(args.firms, args.seconds, args.reviewers, args.web_workers * 2, args.celery * 2,
                           args.web_threads, args.reviewer_arrival, args.pg_stats))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "deadline.json").write_text(json.dumps(runs, ensure_ascii=False, indent=2))
    print(json.dumps(runs, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
