"""Routing: 5,000 scored applications across all 104 counties, 300 reviewers, assigned by
2 worker processes; against the no-op task floor drained by the same workers in the same
run (five rounds of 1,000 in turns with 1,000 no-op tasks; each round's emails sent before
the next floor). Also reports the balance reached (open assignments per reviewer within a
county)."""
from __future__ import annotations

import time

from sqlalchemy import func, select

from bench.common import per_task, servers
from bench.floor import FLOOR_ENV
from bench.review_seed import analyze, applications_in_review, reviewers
from bench.scoring_pipeline import rounds_against_noop
from tests.support.servers import worker

ROUNDS = 5   # 1,000 no-op tasks, then 1,000 applications, in turns (see bench.common.interleaved)


def _wait_assigned(app, count: int, timeout: float) -> None:
    from rating.extensions import db
    from rating.models import ReviewAssignment

    deadline = time.monotonic() + timeout
    with app.app_context():
        while time.monotonic() < deadline:
            done = db.session.execute(select(func.count()).select_from(ReviewAssignment)
                                      .where(ReviewAssignment.closed_at.is_(None))).scalar_one()
            db.session.rollback()
            if done >= count:
                return
            time.sleep(0.05)
    raise TimeoutError(f"only {done} of {count} assigned")


def _balance(app) -> dict:
    from rating.extensions import db
    from rating.models import ReviewAssignment, User

    with app.app_context():
        rows = db.session.execute(
            select(User.jurisdiction_code, User.id, func.count(ReviewAssignment.id))
            .outerjoin(ReviewAssignment, (ReviewAssignment.reviewer_id == User.id) & ReviewAssignment.closed_at.is_(None))
            .where(User.role == "reviewer").group_by(User.jurisdiction_code, User.id)).all()
    per_county: dict[str, list[int]] = {}
    for code, _user, count in rows:
        per_county.setdefault(code, []).append(count)
    spreads = [max(c) - min(c) for c in per_county.values()]
    ratios = [max(c) / min(c) for c in per_county.values() if min(c) > 0]
    return {"counties": len(per_county), "worst_max_minus_min": max(spreads), "worst_max_over_min": round(max(ratios), 2)}


def run(count: int = 5000, reviewer_count: int = 300) -> dict:
    with servers("routing", smtp=True) as run:
        app, env, redis, instance = run.app, run.env, run.redis, run.instance
        with app.app_context():
            from tests.support.factories import make_batch

            batch = make_batch("js-2024")
            ids = applications_in_review(batch.id, count)
            reviewers(reviewer_count)
            analyze()
        proc = worker({**env, **FLOOR_ENV}, instance, concurrency=2)
        try:
            from workers.tasks import route_application

            with app.app_context():
                parts, assigned_seconds, share = rounds_against_noop(
                    redis, route_application, ids, lambda n: _wait_assigned(app, n, 1800), ROUNDS)
        finally:
            proc.stop()
        balance = _balance(app)
        emails = len(run.smtp.messages)
    done = share * ROUNDS
    noop_rate, route_rate = done / parts["floor"]["seconds"], done / sum(assigned_seconds)
    emailed_rate = done / parts["work"]["seconds"]
    return {"applications": done, "reviewers": reviewer_count, "rounds": ROUNDS,
            "noop_tasks_per_s": round(noop_rate, 1),
            "assigned_per_s": round(route_rate, 1), "ratio_to_noop": round(route_rate / noop_rate, 2),
            "assigned_and_emailed_per_s": round(emailed_rate, 1),
            "ratio_to_noop_with_emails": round(emailed_rate / noop_rate, 2),
            "noop_cpu_ms_per_task": per_task(parts["floor"]["cpu"], done),
            "routing_cpu_ms_per_application": per_task(parts["work"]["cpu"], done),
            "balance": balance, "emails_received": emails}
