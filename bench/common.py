"""Shared pieces of the benchmarks: throwaway servers, a migrated app, bulk seeding, timing."""
from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import statistics
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import text

from tests.support.faults.seed import typed_answer
from tests.support.mail import SmtpServer
from tests.support.servers import PostgresServer, RedisServer

RESULTS = Path(__file__).resolve().parent / "results"
_SERIALS = itertools.count(10_000)


@dataclass
class Servers:
    """What a benchmark runs on: the app (migrated, in this process), the environment its
    processes get, and the servers themselves (to stop, restart or count mail)."""

    app: Any
    env: dict
    postgres: PostgresServer
    redis: RedisServer
    smtp: SmtpServer | None
    instance: Path


@contextmanager
def servers(name: str, *, broker_db: int = 0, smtp: bool = False, settings: dict | None = None,
            pg_settings: dict | None = None):
    """PostgreSQL + Redis (the broker on `broker_db`) of our own, with `smtp` an SMTP server
    too (the app's mail goes there), and the app migrated on them, `settings` added to its
    environment and `pg_settings` to PostgreSQL's; yields `Servers`, and removes everything
    afterwards."""
    postgres = PostgresServer(pg_settings).start()
    redis = RedisServer().start()
    mail = SmtpServer().start() if smtp else None
    instance = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    env = {
        "DATABASE_URL": postgres.create_database(f"bench_{name}"),
        "CELERY_BROKER_URL": redis.url(broker_db),
        "INSTANCE_PATH": str(instance),
        "STORAGE_DIR": str(instance / "storage"),
        "SECRET_KEY": f"bench-{name}",
        "SWEEP_GRACE_SECONDS": "3600",
        **({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(mail.port)} if mail else {}),
        **(settings or {}),
    }
    try:
        app = migrated_app(env)
        yield Servers(app, {**os.environ, **env}, postgres, redis, mail, instance)
    finally:
        if mail is not None:
            mail.stop()
        postgres.destroy()
        redis.destroy()
        shutil.rmtree(instance, ignore_errors=True)


@contextmanager
def environment(name: str, pg_settings: dict | None = None):
    """`servers` without mail, as (app, env, redis, instance)."""
    with servers(name, pg_settings=pg_settings) as run:
        yield run.app, run.env, run.redis, run.instance


def migrated_app(env: dict):
    """The app on `env` (put into os.environ, for the processes it starts), migrated, with
    the divisions and the shipped guide editions loaded."""
    os.environ.update(env)
    from flask_migrate import upgrade

    from rating import create_app
    from rating.extensions import db
    from rating.services.reference import shipped_edition_paths
    from rating.services.reference import install_edition_file, load_divisions

    app = create_app()
    with app.app_context():
        upgrade()
        load_divisions()
        for path in shipped_edition_paths():
            install_edition_file(path)
        db.session.commit()
    return app


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(values) * 1000, 1), "p99_ms": round(percentile(values, 99) * 1000, 1)}


def seed_applications(app, count: int, status: str = "submitted") -> list[int]:
    """Firms with complete applications, inserted in bulk (the benchmarks measure scoring, not filing)."""
    from rating import clock
    from rating.extensions import db
    from rating.models import Application, CloudService, Enterprise, Evidence, Payment
    from rating.rules.uscc import uscc_from_serial
    from tests.support.factories import good_application, make_batch

    with app.app_context():
        batch = make_batch("js-2024", closes_in_days=30)
        template = good_application(batch, 3)
        from rating.rules import answers as codec
        from rating.services.reference import get_edition

        edition = get_edition(batch.edition_code)
        needs_evidence = [i.code for i in edition.indicators_for(3) if i.evidence_required]
        stored = {code: codec.to_storage(edition.indicator(code), typed_answer(edition.indicator(code), value))
                  for code, value in template["answers"].items()}
        counties = ["320402", "320404", "320411", "320412", "320413", "320481"]
        now = clock.now()
        ids = []
        for start in range(0, count, 500):
            chunk = []
            for n in range(start, min(count, start + 500)):
                serial = next(_SERIALS)
                firm = Enterprise(name=f"基准企业{serial}", uscc=uscc_from_serial(serial, division=counties[n % 6]),
                                  district_code=counties[n % 6], industry="C", scale="small",
                                  contact_name="王工", contact_phone="0519-1234567", email=f"b{serial}@bench.test")
                evidence = [Evidence(indicator_code=code, filename=f"{code}.pdf", content_type="application/pdf",
                                     size=1000, sha256=hashlib.sha256(f"{serial}-{code}".encode()).hexdigest())
                            for code in needs_evidence]
                application = Application(
                    enterprise=firm, batch=batch, target_level=3, status=status, answers=stored, evidence=evidence,
                    submission_round=1 if status != "draft" else 0,
                    submitted_at=now if status != "draft" else None, score_requested_at=now,
                    services=[CloudService(position=i, provider=s["provider"], service_name=s["service_name"],
                                           category=s["category"], deployment=s["deployment"],
                                           started_on=_date(s["started_on"]), ended_on=None,
                                           payments=[Payment(paid_on=_date(p["paid_on"]), amount=p["amount"])
                                                     for p in s["payments"]])
                              for i, s in enumerate(template["cloud_services"])],
                )
                chunk.append(application)
            db.session.add_all(chunk)
            db.session.commit()
            ids.extend(a.id for a in chunk)
        # A live database has statistics (autovacuum); bulk-loaded tables have none yet.
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        return ids


def login_session(base: str, email: str):
    """A `requests` session logged in through the login form (CSRF token and all), as a
    browser would be; the load itself then goes through `http_load` with its cookies."""
    import re

    import requests

    from tests.support.factories import PASSWORD

    session = requests.Session()
    page = session.get(f"{base}/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = session.post(f"{base}/login", data={"csrf_token": token, "email": email, "password": PASSWORD},
                            allow_redirects=False)
    assert response.status_code == 302 and "/login" not in response.headers["Location"], response.status_code
    return session


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) used so far by the parts of a benchmark on this machine:
    web (gunicorn), workers (Celery), PostgreSQL, Redis and this process (the load
    generator). Take it before and after a run: `cpu_share(before, cpu_seconds(), seconds)`.
    A process that ended in between is not counted (pooled connections and pool children
    live for the whole run); PostgreSQL includes any other cluster on the machine, idle."""
    import psutil

    totals: dict[str, float] = {}
    for process in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            times = process.info["cpu_times"]
        except psutil.Error:
            continue
        if times is None:
            continue
        if process.pid == os.getpid():
            part = "load generator"
        elif "gunicorn" in cmdline:
            part = "web"
        elif "celery" in cmdline:
            part = "workers"
        elif (process.info["name"] or "").startswith("postgres") or cmdline.startswith("postgres"):
            part = "postgresql"
        elif "redis-server" in cmdline:
            part = "redis"
        else:
            continue
        totals[part] = totals.get(part, 0.0) + times.user + times.system
    return totals


def cpu_share(before: dict[str, float], after: dict[str, float], per: float) -> dict[str, float]:
    """CPU seconds each part used between two `cpu_seconds()` readings, divided by `per`
    (the seconds elapsed: cores kept busy; the requests made ÷ 1000: ms per request)."""
    return {part: round((after[part] - before.get(part, 0.0)) / per, 2) for part in sorted(after)}


def _date(text: str):
    from datetime import date

    return date.fromisoformat(text)


@contextmanager
def timer():
    started = time.perf_counter()
    box = {}
    yield box
    box["seconds"] = time.perf_counter() - started


__all__ = ["environment", "servers", "seed_applications", "summary", "percentile", "timer", "http_load", "Call",
           "Connection", "login_session", "cpu_seconds", "cpu_share", "interleaved", "task_rounds", "per_task",
           "RESULTS", "timedelta"]


# --- HTTP load -------------------------------------------------------------------------
#
# The load generator shares the 2-core machine with the server it measures, so it must cost
# little: `requests` spends about 1 ms of CPU per request (half of what a hello endpoint
# costs the server), which capped the hello floor and inflated every latency. A bare
# `http.client` connection with keep-alive costs about 0.2 ms.

@dataclass(frozen=True)
class Call:
    """One request of a load run: method, path (below the base URL), body and headers."""

    path: str
    method: str = "GET"
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def post_json(cls, path: str, payload: Any, headers: dict | None = None) -> "Call":
        import json

        return cls(path, "POST", json.dumps(payload).encode(),
                   (("Content-Type", "application/json"), *(headers or {}).items()))


# Each connection comes from a loopback address of its own and makes at most
# PER_ADDRESS requests: the rate limiter counts per address, and a load run must measure
# the endpoint, not its limit (300 a minute for the totals).
_ADDRESSES = itertools.count()
PER_ADDRESS = 250


def _next_address() -> tuple[str, int]:
    n = next(_ADDRESSES)
    return f"127.{100 + n // 62_500}.{n // 250 % 250}.{n % 250 + 1}", 0


class Connection:
    """One keep-alive HTTP connection from a loopback address of its own (a client of its
    own to the rate limiter), made again after PER_ADDRESS requests from a new address.

    As browsers and urllib3 do, a connection the server has closed while idle (gunicorn's
    `--keep-alive`, 2 s) is noticed before a request is sent on it (the socket reads as
    ready: the server's FIN) and made afresh; a request that still finds it closed is sent
    again only if its method is in `resend` (by default GETs only: a write is never resent).
    """

    def __init__(self, base: str, resend: frozenset[str] = frozenset({"GET"})) -> None:
        from urllib.parse import urlsplit

        self.host, self.port = urlsplit(base).hostname, urlsplit(base).port
        self.resend = resend
        self.connection = None
        self.used = 0
        self.set_cookies: list[str] = []     # of the last response

    def _closed_by_server(self) -> bool:
        import select

        if self.connection.sock is None:
            return False
        poller = select.poll()
        poller.register(self.connection.sock, select.POLLIN)
        return bool(poller.poll(0))      # readable while no request is out: EOF (or junk)

    def _fresh(self):
        import http.client

        if self.connection is not None and (self.used >= PER_ADDRESS or self._closed_by_server()):
            self.close()
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60,
                                                         source_address=_next_address())
            self.used = 0
        return self.connection

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
                ) -> tuple[int, bytes]:
        """(status, body); raises OSError or http.client.HTTPException when no answer came."""
        import http.client

        for attempt in range(2):
            connection = self._fresh()
            try:
                self.used += 1
                connection.request(method, path, body, headers or {})
                response = connection.getresponse()
                self.set_cookies = response.headers.get_all("Set-Cookie") or []
                data = response.read()
                if response.will_close:
                    self.close()
                return response.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt or method not in self.resend:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def http_load(base: str, calls, *, count: int | None = None, concurrency: int = 20, seconds: float = 60.0,
              cookies: dict | None = None) -> dict:
    """`_run_load`'s figures: see there."""
    return _figures([_run_load(base, calls, count=count, concurrency=concurrency, seconds=seconds,
                               cookies=cookies)])


def interleaved(base: str, loads: dict[str, dict], *, rounds: int = 4, count: int = 500,
                concurrency: int = 20) -> dict[str, dict]:
    """Each of `loads` (name → `http_load` arguments: calls, cookies) run `rounds` times,
    `count` requests a time, in turn with the others; figures per name over all its rounds.

    The speed of these shared machines moves by a third or more within a minute (the same
    `/hello` measured 1,100 and 2,600 req/s an hour apart): a floor measured once, before the
    page, made the ratio of two runs differ by two. Taken in turns, every load meets the
    same machine, and their ratio holds.

    A load whose requests can be sent once only (a submission each) gives `calls` as one
    sequence per round and `per_round: True`; each round then sends all of its sequence,
    within `seconds` (default 60)."""
    parts: dict[str, list] = {name: [] for name in loads}
    for round_ in range(rounds):
        for name, arguments in loads.items():
            arguments = dict(arguments)
            seconds = arguments.pop("seconds", 60.0)
            if arguments.pop("per_round", False):
                arguments["calls"], n = arguments["calls"][round_], None
            else:
                n = count
            parts[name].append(_run_load(base, count=n, concurrency=concurrency, seconds=seconds, **arguments))
    return {name: _figures(runs) for name, runs in parts.items()}


def per_task(cpu: dict[str, float], tasks: int) -> dict[str, float]:
    """`task_rounds`' CPU seconds by part as ms per task."""
    return {part: round(used / tasks * 1000, 2) for part, used in sorted(cpu.items())}


def task_rounds(rounds: int, floor: Callable[[int], None], work: Callable[[int], None]) -> dict[str, dict]:
    """`floor(r)` and `work(r)` called in turns, `rounds` times each (see `interleaved`: the
    machine's speed moves within minutes); each part's seconds and CPU seconds by part
    (`cpu_seconds`) summed over its rounds."""
    totals = {"floor": {"seconds": 0.0, "cpu": {}}, "work": {"seconds": 0.0, "cpu": {}}}
    for round_ in range(rounds):
        for name, part in (("floor", floor), ("work", work)):
            before, started = cpu_seconds(), time.perf_counter()
            part(round_)
            totals[name]["seconds"] += time.perf_counter() - started
            after = cpu_seconds()
            for key, used in after.items():
                totals[name]["cpu"][key] = totals[name]["cpu"].get(key, 0.0) + used - before.get(key, 0.0)
    return totals


def _figures(runs: list[dict]) -> dict:
    """Requests, per second, errors (status ≥ 400 or no answer), p50, p99 and the CPU each
    part of the machine spent per request, over `_run_load` runs taken together."""
    latencies = [value for run in runs for value in run["latencies"]]
    statuses: dict[int, int] = {}
    cpu: dict[str, float] = {}
    for run in runs:
        for code, n in run["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
        for part, used in run["cpu_seconds"].items():
            cpu[part] = cpu.get(part, 0.0) + used
    elapsed = sum(run["seconds"] for run in runs)
    errors = sum(n for code, n in statuses.items() if code >= 400 or code == 0)
    per = max(len(latencies), 1) / 1000
    return {"requests": len(latencies), "per_s": round(len(latencies) / elapsed, 1), "errors": errors,
            # Any answer other than 200 shown (a redirect to the login page is no error, but
            # would not be the page measured).
            **({"statuses": {str(k): v for k, v in statuses.items()}} if set(statuses) != {200} else {}),
            **summary(latencies),
            # Where each request's CPU went (ms of a core per request, by part): what the
            # ratio to hello is made of.
            "cpu_ms_per_request": {part: round(used / per, 2) for part, used in sorted(cpu.items())
                                   if part in ("web", "postgresql", "load generator", "redis")}}


def _run_load(base: str, calls, *, count: int | None = None, concurrency: int = 20, seconds: float = 60.0,
              cookies: dict | None = None) -> dict:
    """Requests by `concurrency` threads, each on a keep-alive `Connection` (a loopback
    address of its own, see PER_ADDRESS; any request found on a closed connection is sent
    once more). `calls` is a path, a `Call`,
    a function n → path or `Call` (with `count`), or a sequence of them; stops early after
    `seconds`. Returns the raw run: latencies, statuses, seconds, and the CPU seconds each
    part of the machine spent meanwhile (`cpu_seconds`); `_figures` sums it up."""
    import http.client
    import threading

    if isinstance(calls, (str, Call)):
        calls = itertools.repeat(calls, count)
    elif callable(calls):
        calls = map(calls, range(count))
    else:
        calls = iter(calls[:count] if count is not None else calls)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client() -> None:
        connection = Connection(base, resend=frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"}))
        # Each client keeps the cookies it is given, as a browser does: a session the app
        # updates (Flask-Login marks it not fresh for a client whose address changed, and
        # each connection here comes from an address of its own) is re-signed once, not on
        # every request.
        jar = dict(cookies or {})
        while time.perf_counter() < deadline:
            with lock:
                call = next(calls, None)
            if call is None:
                break
            if isinstance(call, str):
                call = Call(call)
            headers = dict(call.headers)
            if jar:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
            started = time.perf_counter()
            try:
                status = connection.request(call.method, call.path, call.body, headers)[0]
            except (OSError, http.client.HTTPException):
                status = 0
            elapsed = time.perf_counter() - started
            for set_cookie in connection.set_cookies if status else ():
                name, _, value = set_cookie.split(";", 1)[0].partition("=")
                jar[name.strip()] = value.strip()
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    cpu_before = cpu_seconds()
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu_after = cpu_seconds()
    return {"latencies": latencies, "statuses": statuses, "seconds": elapsed,
            "cpu_seconds": {part: after - cpu_before.get(part, 0.0) for part, after in cpu_after.items()}}
