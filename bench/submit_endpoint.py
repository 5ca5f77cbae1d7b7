"""Submit endpoint throughput: complete drafts submitted through gunicorn by a load generator,
against GET /hello of the same app in the same run, in five rounds taken in turns."""
from __future__ import annotations

import hashlib

from bench.common import Call, environment, http_load, interleaved, seed_applications
from tests.support.servers import free_port, web

CONCURRENCY = 16
ROUNDS = 5


def _prepare(app, count: int) -> list[tuple[int, str]]:
    """Complete drafts with evidence, each with its firm's user and API token."""
    from datetime import timedelta

    from rating import clock
    from rating.extensions import db
    from rating.models import ApiToken, Application, User

    ids = seed_applications(app, count, status="draft")
    pairs = []
    with app.app_context():
        applications = db.session.query(Application).filter(Application.id.in_(ids)).all()
        for n, application in enumerate(applications):
            user = User(email=f"bench{n}@bench.test", password_hash="x", name="bench", role="enterprise",
                        enterprise_id=application.enterprise_id)
            raw = f"bench-token-{n}"
            db.session.add(user)
            db.session.flush()
            db.session.add(ApiToken(token_hash=hashlib.sha256(raw.encode()).hexdigest(), user_id=user.id,
                                    expires_at=clock.now() + timedelta(hours=2)))
            pairs.append((application.id, raw))
        db.session.commit()
    return pairs


def run(count: int = 2000) -> dict:
    with environment("submit") as (app, env, _redis, instance):
        pairs = _prepare(app, count)
        port = free_port()
        server = web(env, instance, port, workers=2)
        base = f"http://127.0.0.1:{port}"
        try:
            http_load(base, "/hello", count=200, concurrency=CONCURRENCY)
            calls = [Call.post_json(f"/api/v1/applications/{i}/submit", {"pledge": True},
                                    {"Authorization": f"Bearer {t}"}) for i, t in pairs]
            # In turns (see `interleaved`): each round submits a fifth of the drafts, once each.
            measured = interleaved(base, {
                "hello": {"calls": "/hello"},
                "submit": {"calls": [calls[r::ROUNDS] for r in range(ROUNDS)], "per_round": True, "seconds": 300},
            }, rounds=ROUNDS, count=count // ROUNDS, concurrency=CONCURRENCY)
            hello, submit = measured["hello"], measured["submit"]
        finally:
            server.stop()
    return {"concurrency": CONCURRENCY, "gunicorn": "2 workers × 4 threads", "rounds": ROUNDS, "hello": hello,
            "submit": submit, "ratio_to_hello": round(submit["per_s"] / hello["per_s"], 2)}
