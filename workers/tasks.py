"""Celery tasks: thin, take ids, idempotent. The work lives in rating.services."""
from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import DBAPIError, OperationalError

from rating.services import scoring_runs

log = logging.getLogger(__name__)

RETRYABLE = (OperationalError, DBAPIError)


@shared_task(
    name="workers.tasks.score_application",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=RETRYABLE,
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=20,
    soft_time_limit=60,
    time_limit=90,
)
def score_application(application_id: int) -> str:
    return scoring_runs.score_application(int(application_id))


@shared_task(name="workers.tasks.sweep_unscored", acks_late=True, time_limit=120)
def sweep_unscored() -> int:
    """Re-publish scoring for anything left submitted without a score (broker or worker died)."""
    ids = scoring_runs.claim_unscored(current_app.config["SWEEP_GRACE_SECONDS"])
    for application_id in ids:
        score_application.delay(application_id)
    if ids:
        log.warning("re-published scoring for %d application(s)", len(ids))
    return len(ids)


@shared_task(name="workers.tasks.noop", acks_late=True)
def noop(value: int | None = None) -> int | None:
    """Does nothing: the floor that benchmarks compare real tasks against."""
    return value


def request_scoring(application_id: int) -> bool:
    """Publish the scoring job after the submit committed.

    A broker that is down must not fail the firm's submission: the application is
    already saved as submitted, and the beat sweeper publishes the job later.
    """
    try:
        score_application.apply_async(
            (application_id,),
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        )
        return True
    except Exception:  # noqa: BLE001  (any broker failure: the sweeper covers it)
        log.warning("could not publish scoring for application %s; the sweeper will", application_id,
                    exc_info=True)
        return False
