"""Real HTTP requests to the web server under test, every reply kept for the figures."""
from __future__ import annotations

import io
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from tests.support.factories import PDF_BYTES
from tests.support.faults.seed import FilingPlan, Firm


@dataclass
class Reply:
    name: str
    status: int          # 0: no answer at all (connection refused, reset, timed out)
    seconds: float
    body: dict | list | None
    text: str = ""
    headers: dict = field(default_factory=dict)
    content: bytes = b""

    @property
    def error_code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None


class Http:
    """Requests to the real web server, one connection pool per thread, every reply kept."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self.local = threading.local()
        self.replies: list[Reply] = []
        self.lock = threading.Lock()

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def call(self, name: str, method: str, path: str, token: str | None = None, keep_content: bool = False,
             **kwargs) -> Reply:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = time.monotonic()
        try:
            response = self._session().request(method, f"{self.base_url}{path}", headers=headers,
                                               timeout=self.timeout, **kwargs)
            try:
                body = response.json()
            except ValueError:
                body = None
            reply = Reply(name, response.status_code, time.monotonic() - started, body, response.text[:4000],
                          dict(response.headers), response.content if keep_content else b"")
        except requests.RequestException as exc:
            reply = Reply(name, 0, time.monotonic() - started, None, f"{type(exc).__name__}: {exc}")
        with self.lock:
            self.replies.append(reply)
        return reply

    def submit(self, firm: Firm) -> Reply:
        return self.call("submit", "POST", f"/api/v1/applications/{firm.application_id}/submit", firm.token,
                         json={"pledge": True})

    def decide(self, token: str, application_id: int, decision: str) -> Reply:
        current = self.call("application", "GET", f"/api/v1/applications/{application_id}", token)
        version = current.body.get("version") if isinstance(current.body, dict) else None
        return self.call(f"decide:{decision}", "POST", f"/api/v1/applications/{application_id}/decisions",
                         token, json={"decision": decision, "comment": "", "version": version})

    def file_new(self, firm: Firm, plan: "FilingPlan") -> list[Reply]:
        """Create, upload every piece of evidence and submit, as a firm does on the last day."""
        replies = [self.call("create", "POST", "/api/v1/applications", firm.token, json=plan.body)]
        if replies[0].status != 201:
            return replies
        application_id = replies[0].body["id"]
        for code in plan.evidence_codes:
            replies.append(self.call("evidence", "POST", f"/api/v1/applications/{application_id}/evidence",
                                     firm.token, data={"indicator_code": code},
                                     files={"file": ("证明.pdf", io.BytesIO(PDF_BYTES), "application/pdf")}))
        replies.append(self.call("submit", "POST", f"/api/v1/applications/{application_id}/submit",
                                 firm.token, json={"pledge": True}))
        return replies

    def by_status(self) -> dict[str, Counter]:
        result: dict[str, Counter] = {}
        for reply in self.replies:
            result.setdefault(reply.name, Counter())[reply.status] += 1
        return result


def parallel(function, items, threads: int = 4, rate: float | None = None) -> list:
    """`function` over `items` on `threads` threads; with `rate`, item n starts no sooner
    than n / rate seconds in (a steady stream, as on a deadline day)."""
    started = time.monotonic()

    def paced(pair):
        n, item = pair
        if rate:
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
        return function(item)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(paced, enumerate(items)))
