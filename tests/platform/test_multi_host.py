"""The README's multi-host layout, on one machine: two web hosts (gunicorn each) and two
worker hosts (Celery each) against one PostgreSQL and one Redis, with the files in a
storage directory every host shares. Everything a firm, a reviewer and an official do
goes over HTTP, each step on the other web host than the step before; the workers score,
route and render. Nothing may depend on which host served or worked."""
from __future__ import annotations

import hashlib
import re
import time
from itertools import cycle

import pytest
import requests
from sqlalchemy import func, select

from rating import clock
from rating.extensions import db
from rating.models import ApplicationScore, Certificate
from rating.rules.uscc import uscc_from_serial
from rating.services.reference import get_edition
from tests.support.factories import PASSWORD, PDF_BYTES, good_application, make_batch, make_staff
from tests.support.servers import free_port, web, worker

pytestmark = pytest.mark.integration

FIRMS = 4


class Host:
    """One web host's JSON API, as a client sees it."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, f"{self.base}/api/v1{path}", headers=headers, timeout=30, **kwargs)

    def token(self, email: str) -> str:
        answer = self.call("POST", "/tokens", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 201, answer.text
        return answer.json()["token"]


def _browser_session(host: Host, email: str) -> requests.Session:
    """Logged in through the login form of `host`, as a browser would be."""
    session = requests.Session()
    page = session.get(f"{host.base}/login", timeout=30)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    answer = session.post(f"{host.base}/login", data={"csrf_token": csrf, "email": email, "password": PASSWORD},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 302 and "/login" not in answer.headers["Location"], answer.status_code
    return session


def _wait(what: str, check, timeout: float = 120.0, logs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    tails = "".join(f"\n--- {p.log_path.name}\n{p.output()[-2000:]}" for p in logs)
    raise AssertionError(f"{what}: not within {timeout}s{tails}")


@pytest.fixture()
def hosts(app_env, redis_server, log_dir):
    """Two web hosts sharing the limiter's Redis, two worker hosts (one process each)."""
    env = {**app_env, "SWEEP_INTERVAL_SECONDS": "1", "SWEEP_GRACE_SECONDS": "2", "REDIS_URL": redis_server.url(6)}
    import redis

    redis.Redis.from_url(redis_server.url(6)).flushdb()
    started = []
    try:
        webs = []
        for name in ("web-a", "web-b"):
            port = free_port()
            started.append(web(env, log_dir, port, name=name, workers=1, threads=4))
            webs.append(Host(f"http://127.0.0.1:{port}"))
        for name in ("worker-a", "worker-b"):
            started.append(worker(env, log_dir, name=name, concurrency=1))
        yield webs, started
    finally:
        for proc in reversed(started):
            proc.stop()


def test_two_web_and_two_worker_hosts_share_database_broker_and_storage(app, hosts):
    (a, b), processes = hosts
    other = {a: b, b: a}
    batch = make_batch("js-2024")
    county, city = make_staff("reviewer", "320402"), make_staff("reviewer", "320400")
    official = make_staff("official", "320400")
    evidence_codes = [i.code for i in get_edition(batch.edition_code).indicators_for(3) if i.evidence_required]
    turns = cycle((a, b))

    # Firms register, log in, file, upload and submit, every step on the other host.
    firms = []
    for n in range(FIRMS):
        host = next(turns)
        email = f"multihost{n}@example.com"
        registered = host.call("POST", "/enterprises", json={
            "name": f"多主机测试企业{n}有限公司", "uscc": uscc_from_serial(880_000 + n, division="320402"),
            "district_code": "320402", "industry": "C", "scale": "small", "contact_name": "王工",
            "contact_phone": "0519-12345678", "email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        token = other[host].token(email)
        created = next(turns).call("POST", "/applications", token=token, json=good_application(batch, 3))
        assert created.status_code == 201, created.text
        application_id = created.json()["id"]
        uploads = []
        for code in evidence_codes:
            content = PDF_BYTES + f"%firm {n} indicator {code}\n".encode()
            answer = next(turns).call("POST", f"/applications/{application_id}/evidence", token=token,
                                      data={"indicator_code": code},
                                      files={"file": ("证明材料.pdf", content, "application/pdf")})
            assert answer.status_code == 201, answer.text
            uploads.append((answer.json()["id"], content))
        submitted = next(turns).call("POST", f"/applications/{application_id}/submit", token=token,
                                     json={"pledge": True})
        assert submitted.status_code == 202, submitted.text
        firms.append((email, token, application_id, uploads))

    # A browser session logged in on one host is good on the other (one SECRET_KEY), and a
    # file uploaded through either host downloads, byte for byte, through both.
    email, _token, application_id, uploads = firms[0]
    browser = _browser_session(a, email)
    for evidence_id, content in uploads:
        for host in (a, b):
            got = browser.get(f"{host.base}/applications/{application_id}/evidence/{evidence_id}", timeout=30)
            assert got.status_code == 200 and got.content == content, (host.base, got.status_code)
    stranger = _browser_session(b, firms[1][0])
    assert stranger.get(f"{a.base}/applications/{application_id}/evidence/{uploads[0][0]}",
                        timeout=30).status_code == 404

    # The workers score and route each submission; reviewers decide on either host.
    county_token, city_token = a.token(county.email), b.token(city.email)
    logs = processes

    def queue(host, token):
        answer = host.call("GET", "/reviews/queue", token=token)
        return {item["application_id"] for item in answer.json()} if answer.status_code == 200 else set()

    def decide_each(token, decision, comment):
        """Read on one host, decide on the other."""
        for application_id in ids:
            host = next(turns)
            version = host.call("GET", f"/applications/{application_id}", token=token).json()["version"]
            decided = other[host].call("POST", f"/applications/{application_id}/decisions", token=token,
                                       json={"decision": decision, "comment": comment, "version": version})
            assert decided.status_code == 201, decided.text

    ids = [f[2] for f in firms]
    _wait("every application scored and routed to the county", lambda: queue(b, county_token) >= set(ids), logs=logs)
    decide_each(county_token, "forward", "材料齐全")
    _wait("every application routed to the city", lambda: queue(a, city_token) >= set(ids), logs=logs)
    decide_each(city_token, "approve", "同意")

    # The official publishes on one host and closes on the other; the workers render.
    official_token = a.token(official.email)
    today = clock.today().isoformat()
    notice = b.call("POST", "/publicity-notices", token=official_token, json={
        "title": "多主机测试公示", "application_ids": ids, "starts_on": today, "ends_on": today})
    assert notice.status_code == 201, notice.text
    closed = a.call("POST", f"/publicity-notices/{notice.json()['id']}/close", token=official_token)
    assert closed.status_code == 200, closed.text
    numbers = _certificate_numbers(ids)

    def ready():
        states = [next(turns).call("GET", f"/ratings/{n}", token=official_token).json()["certificate"]
                  for n in numbers]
        return states if all(s["state"] == "ready" for s in states) else None

    states = _wait("every certificate rendered", ready, logs=logs)
    for (email, token, _id, _uploads), number, state in zip(firms, numbers, states):
        copies = [host.call("GET", f"/ratings/{number}/certificate.pdf", token=token) for host in (a, b)]
        assert all(c.status_code == 200 for c in copies), [c.status_code for c in copies]
        assert copies[0].content == copies[1].content
        assert hashlib.sha256(copies[0].content).hexdigest() == state["sha256"]

    # Exactly once, whichever worker did it.
    db.session.rollback()
    scores = db.session.execute(select(ApplicationScore.application_id, func.count())
                                .where(ApplicationScore.application_id.in_(ids))
                                .group_by(ApplicationScore.application_id)).all()
    assert sorted(scores) == sorted((i, 1) for i in ids)
    assert db.session.execute(select(func.count()).select_from(Certificate)).scalar_one() == len(ids)
    done = {p.log_path.name: p.log_path.read_text(errors="replace").count("succeeded")
            for p in processes if p.log_path.name.startswith("worker")}
    assert sum(done.values()) >= 3 * len(ids), done          # scored, routed twice, rendered: by the workers


def _certificate_numbers(application_ids: list[int]) -> list[str]:
    from rating.models import Rating

    db.session.rollback()
    numbers = dict(db.session.execute(select(Rating.application_id, Rating.certificate_no)
                                      .where(Rating.application_id.in_(application_ids))).all())
    return [numbers[i] for i in application_ids]


def test_the_login_limit_is_shared_by_the_web_hosts(app, hosts):
    """REDIS_URL: the limiter counts an address's attempts over every web host together."""
    (a, b), _processes = hosts
    session = requests.Session()
    statuses = []
    for host in [a, b] * 6:                                 # 12 attempts; 10 a minute are allowed
        page = session.get(f"{host.base}/password/forgot", timeout=30)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        answer = session.post(f"{host.base}/password/forgot", data={"csrf_token": csrf, "email": "x@example.com"},
                              allow_redirects=False, timeout=30)
        statuses.append(answer.status_code)
    assert statuses[:10].count(429) == 0 and statuses[10:] == [429, 429], statuses
