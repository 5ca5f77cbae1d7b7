"""Scoring pipeline: applications scored and routed to a reviewer per second by 2 worker
processes, against the no-op task floor drained by the same workers in the same run, and
submit→scored latency at a steady submission rate. The firm's email for each scored
application goes to a local SMTP server through the same workers. The 5,000 go in five
rounds of 1,000, each after 1,000 no-op tasks (the floor, taken in turns with the work as
`bench.common.interleaved` says why); each round's emails are sent before the next floor."""
from __future__ import annotations

import time

from sqlalchemy import func, select, update

from bench.common import per_task, seed_applications, servers, summary, task_rounds
from bench.floor import FLOOR_ENV
from tests.support.servers import worker

ROUNDS = 5


def _drain(redis, timeout: float) -> None:
    import redis as redis_lib

    client = redis_lib.Redis.from_url(redis.url(0))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.llen("celery") == 0 and client.hlen("unacked") == 0:
            return
        time.sleep(0.02)
    raise TimeoutError("queue not drained")


def noop_floor(redis, count: int) -> float:
    """Seconds for the running worker (started with `FLOOR_ENV`) to drain `count` no-op
    tasks: the floor of the run."""
    from bench.floor import noop

    started = time.perf_counter()
    for n in range(count):
        noop.delay(n)
    _drain(redis, 600)
    return time.perf_counter() - started


def rounds_against_noop(redis, task, ids: list[int], wait, rounds: int) -> tuple[dict, list[float], int]:
    """`ids` published to `task` in `rounds` slices, each after as many no-op tasks (the
    floor, in turns: see bench.common.interleaved), until `wait(n)` returns with n done;
    each slice's emails are sent before the next floor starts. Returns `task_rounds`' parts
    (the work's seconds include the emails), each slice's seconds until done, the slice size."""
    share, done_seconds = len(ids) // rounds, []

    def work(round_: int) -> None:
        started = time.perf_counter()
        for application_id in ids[round_ * share:(round_ + 1) * share]:
            task.delay(application_id)
        wait((round_ + 1) * share)
        done_seconds.append(time.perf_counter() - started)
        _drain(redis, 600)

    parts = task_rounds(rounds, lambda _round: noop_floor(redis, share), work)
    return parts, done_seconds, share


def _wait_scored(app, count: int, timeout: float) -> None:
    """Until `count` applications are scored and assigned to a reviewer."""
    from rating.extensions import db
    from rating.models import ReviewAssignment

    deadline = time.monotonic() + timeout
    with app.app_context():
        while time.monotonic() < deadline:
            done = db.session.execute(
                select(func.count()).select_from(ReviewAssignment)).scalar_one()
            db.session.rollback()
            if done >= count:
                return
            time.sleep(0.05)
    raise TimeoutError(f"only {done} of {count} scored")


def run(count: int = 5000, rate: float = 50.0, steady_seconds: float = 20.0) -> dict:
    with servers("scoring", smtp=True) as run:
        app, env, redis, instance = run.app, run.env, run.redis, run.instance
        ids = seed_applications(app, count)
        steady_ids = seed_applications(app, int(rate * steady_seconds), status="draft")
        with app.app_context():
            from tests.support.factories import make_staff

            for county in ("320402", "320404", "320411", "320412", "320413", "320481"):
                for _ in range(3):
                    make_staff("reviewer", county)
        proc = worker({**env, **FLOOR_ENV}, instance, concurrency=2)
        try:
            from workers.tasks import score_application

            with app.app_context():
                # 1,000 no-op tasks, then 1,000 applications, five times.
                parts, scored_seconds, share = rounds_against_noop(
                    redis, score_application, ids, lambda n: _wait_scored(app, n, 1800), ROUNDS)
                latencies = _steady(app, steady_ids, rate, score_application)
        finally:
            proc.stop()
    done = share * ROUNDS
    noop_rate, score_rate = done / parts["floor"]["seconds"], done / sum(scored_seconds)
    emailed_rate = done / parts["work"]["seconds"]
    return {
        "applications": done,
        "rounds": ROUNDS,
        "noop_tasks_per_s": round(noop_rate, 1),
        "scored_and_assigned_per_s": round(score_rate, 1),
        "ratio_to_noop": round(score_rate / noop_rate, 2),
        # Until the firms' and reviewers' emails of each round were sent too.
        "scored_assigned_and_emailed_per_s": round(emailed_rate, 1),
        "ratio_to_noop_with_emails": round(emailed_rate / noop_rate, 2),
        # CPU ms per task by part (workers, PostgreSQL, Redis, this process: publishing,
        # polling and the SMTP server): where the machine's two cores go.
        "noop_cpu_ms_per_task": per_task(parts["floor"]["cpu"], done),
        "scoring_cpu_ms_per_application": per_task(parts["work"]["cpu"], done),
        "steady_rate_per_s": rate,
        "steady_latency": summary(latencies),
    }


def _steady(app, ids: list[int], rate: float, task) -> list[float]:
    """Submit at a steady rate (as the submit use case does: commit, then publish)."""
    from rating import clock
    from rating.extensions import db
    from rating.models import Application, ApplicationScore

    start = time.perf_counter()
    for n, application_id in enumerate(ids):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        db.session.execute(
            update(Application).where(Application.id == application_id)
            .values(status="submitted", submission_round=1, submitted_at=clock.now(),
                    score_requested_at=clock.now(), version=Application.version + 1))
        db.session.commit()
        task.delay(application_id)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        rows = db.session.execute(
            select(Application.submitted_at, ApplicationScore.scored_at)
            .join(ApplicationScore, ApplicationScore.application_id == Application.id)
            .where(Application.id.in_(ids))).all()
        db.session.rollback()
        if len(rows) == len(ids):
            return [(scored - submitted).total_seconds() for submitted, scored in rows]
        time.sleep(0.2)
    raise TimeoutError("steady submissions not all scored")
