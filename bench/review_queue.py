"""Reviewer queue page with 200,000 applications in the database: requests per second and
p99 under 20 concurrent connections, against GET /hello of the same app in the same run.

The database holds what a province accumulates: most applications finished (rated),
IN_REVIEW of them open across 104 counties and 300 reviewers. The page shows 20 rows (the
default; 50 measured too) and the counts of the whole queue."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from bench.common import environment, http_load, interleaved, login_session
from bench.review_seed import analyze, applications_in_review, reviewers
from tests.support.servers import free_port, web

CONCURRENCY = 20
ROUNDS = 5
IN_REVIEW = 20_000


def _assign(application_ids: list[int], by_code: dict[str, list[int]]) -> None:
    """Open assignments: every application to a reviewer of its county, round robin."""
    from rating import clock
    from rating.extensions import db
    from rating.models import Application, Enterprise, ReviewAssignment
    from sqlalchemy import select

    now = clock.now()
    counters: dict[str, int] = {}
    for start in range(0, len(application_ids), 10000):
        chunk = application_ids[start:start + 10000]
        rows = db.session.execute(select(Application.id, Enterprise.district_code)
                                  .join(Enterprise, Enterprise.id == Application.enterprise_id)
                                  .where(Application.id.in_(chunk))).all()
        values = []
        for application_id, code in rows:
            staff = by_code[code]
            n = counters.get(code, 0)
            counters[code] = n + 1
            values.append({"application_id": application_id, "round": 1, "stage": "county",
                           "reviewer_id": staff[n % len(staff)], "assigned_at": now,
                           "due_at": now + timedelta(days=10)})
        db.session.execute(insert(ReviewAssignment), values)
        db.session.commit()


def run(count: int = 200_000, requests_count: int = 3000) -> dict:
    with environment("queue") as (app, env, _redis, instance):
        with app.app_context():
            from rating.models import User
            from rating.extensions import db
            from tests.support.factories import make_batch

            batch = make_batch("js-2024")
            applications_in_review(batch.id, count - IN_REVIEW, stage=None, status="rated")
            ids = applications_in_review(batch.id, IN_REVIEW)
            by_code = reviewers(300)
            _assign(ids, by_code)
            analyze()
            email = db.session.get(User, by_code["320402"][0]).email
            per_reviewer = IN_REVIEW // 300
        port = free_port()
        server = web(env, instance, port, workers=2)
        base = f"http://127.0.0.1:{port}"
        try:
            session = login_session(base, email)
            cookies = session.cookies.get_dict()
            http_load(base, "/hello", count=200, concurrency=CONCURRENCY)
            page = session.get(f"{base}/reviews/")
            shown = page.text.count("/applications/")
            http_load(base, "/reviews/", count=40, concurrency=CONCURRENCY, cookies=cookies)   # warm each worker
            # In turns, so that each meets the same machine (see `interleaved`).
            measured = interleaved(base, {
                "hello": {"calls": "/hello"},
                "queue": {"calls": "/reviews/", "cookies": cookies},
                "queue_50": {"calls": "/reviews/?per_page=50", "cookies": cookies},
            }, rounds=ROUNDS, count=requests_count // ROUNDS, concurrency=CONCURRENCY)
            hello, queue, queue_50 = measured["hello"], measured["queue"], measured["queue_50"]
        finally:
            server.stop()
    return {"applications": count, "in_review": IN_REVIEW, "open_assignments_per_reviewer": per_reviewer,
            "rows_on_page": shown,
            "concurrency": CONCURRENCY, "hello": hello, "queue_page": queue,
            "ratio_to_hello": round(queue["per_s"] / hello["per_s"], 2), "queue_page_50_rows": queue_50,
            "ratio_to_hello_50_rows": round(queue_50["per_s"] / hello["per_s"], 2)}
