"""Celery tasks: thin, take ids, idempotent. The work lives in rating.services.

The application publishes these by name (`rating.platform.jobs`, which names each one):
the names here are part of that contract. A task that wants follow-up jobs records them
in its transaction like any use case (`jobs.later`); they are published when it ends."""
from __future__ import annotations

import gc
import logging
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_ready
from flask import current_app
from sqlalchemy.exc import DBAPIError, OperationalError

from rating.extensions import db
from rating.platform import blobstore, jobs, mailer, outbox
from rating.platform.doctor import certificate_fonts_built, cjk_fonts, harfbuzz_subset_available
from rating.services.ratings import certificates
from rating.services.reporting import export_jobs
from rating.services.review import assignments, routing, scoring_runs

log = logging.getLogger(__name__)

RETRYABLE = (OperationalError, DBAPIError)
# A job that must not be lost: acknowledged only when done, returned to the queue when its
# worker dies, retried with backoff while the database is unavailable.
DURABLE = dict(acks_late=True, reject_on_worker_lost=True, autoretry_for=RETRYABLE, retry_backoff=True,
               retry_backoff_max=300, retry_jitter=True, max_retries=20)


@shared_task(name=jobs.SCORE_APPLICATION, **DURABLE, soft_time_limit=60, time_limit=90)
def score_application(application_id: int) -> str:
    """Score the submission and assign it to a reviewer (one transaction: see scoring_runs)."""
    return scoring_runs.score_application(int(application_id))


@shared_task(name=jobs.ROUTE_APPLICATION, **DURABLE, time_limit=60)
def route_application(application_id: int) -> str:
    outcome = routing.route(int(application_id))
    db.session.commit()
    return outcome


@shared_task(name=jobs.ROUTE_WAITING, acks_late=True, time_limit=300)
def route_waiting(owner: str | None = None) -> dict[str, int]:
    """Assign whatever waits without a reviewer (inside `owner`, or everywhere)."""
    counts = routing.route_waiting(owner=owner)
    if counts.get("unassigned"):
        log.warning("%d application(s) wait for an eligible reviewer", counts["unassigned"])
    return counts


@shared_task(name="workers.tasks.review_deadlines", acks_late=True, time_limit=300)
def review_deadlines() -> dict[str, int]:
    """Remind reviewers before their due dates and flag overdue work (each once)."""
    hours = current_app.config["REVIEW_REMINDER_HOURS"]
    marked = assignments.deadlines(timedelta(hours=hours))
    db.session.commit()
    return {key: len(ids) for key, ids in marked.items()}


@shared_task(name="workers.tasks.sweep_unscored", acks_late=True, time_limit=120)
def sweep_unscored() -> int:
    """Re-publish scoring for anything left submitted without a score (broker or worker died)."""
    ids = scoring_runs.claim_unscored(current_app.config["SWEEP_GRACE_SECONDS"])
    db.session.commit()
    if ids:
        log.warning("re-published scoring for %d application(s)", len(ids))
    return len(ids)


@shared_task(name=jobs.RENDER_CERTIFICATE, acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(*RETRYABLE, OSError, SoftTimeLimitExceeded), retry_backoff=2, retry_backoff_max=300,
             retry_jitter=True, max_retries=8, soft_time_limit=60, time_limit=90)
def render_certificate(rating_id: int) -> str:
    """Render, store and record a rating's certificate; a no-op when it is current, so a
    repeated or redelivered job costs one look at the row."""
    try:
        return certificates.render(int(rating_id))
    finally:
        # A document leaves its font data in reference cycles that only a full collection
        # frees (tens of MB with the full Noto faces); after the freeze below it is cheap.
        gc.collect()


@worker_process_init.connect
def _freeze_startup_objects(**_kwargs) -> None:
    """Move what a pool child inherited out of the collector's way, so collections stay cheap."""
    gc.freeze()


@shared_task(name="workers.tasks.sweep_certificates", acks_late=True, time_limit=120)
def sweep_certificates() -> int:
    """Publish renders that a broker or worker lost; tidy temporaries of renders that died."""
    ids = certificates.waiting(timedelta(seconds=current_app.config["SWEEP_GRACE_SECONDS"]))
    db.session.commit()
    certificates.remove_stale_temporaries()
    if ids:
        log.warning("re-published %d certificate render(s)", len(ids))
    return len(ids)


@shared_task(name="workers.tasks.sweep_storage", acks_late=True, time_limit=300)
def sweep_storage() -> int:
    """Remove temporary and staged files of writes killed before they finished (an hour old)."""
    removed = blobstore.remove_stale_temporaries()
    if removed:
        log.warning("removed %d temporary file(s) of writes that died", removed)
    return removed


@shared_task(name=jobs.BUILD_EXPORT, acks_late=True, reject_on_worker_lost=True,
             autoretry_for=(*RETRYABLE, OSError), retry_backoff=2, retry_backoff_max=300, retry_jitter=True,
             max_retries=4, soft_time_limit=1800, time_limit=1860)
def build_export(job_id: int) -> str:
    """Build a long list's file; a job already done is not built again."""
    try:
        return export_jobs.build(int(job_id))
    finally:
        gc.collect()


@shared_task(name="workers.tasks.sweep_exports", acks_late=True, time_limit=120)
def sweep_exports() -> int:
    """Publish export jobs a broker or worker lost; remove files of week-old exports."""
    ids = export_jobs.waiting(timedelta(seconds=current_app.config["SWEEP_GRACE_SECONDS"]))
    for job_id in ids:
        jobs.publish(jobs.BUILD_EXPORT, job_id)
    export_jobs.remove_expired()
    db.session.commit()
    return len(ids)


@worker_ready.connect
def _check_pdf_toolchain(sender=None, **_kwargs) -> None:
    """Say loudly at start when certificates would be slow or lose glyphs (see `doctor`)."""
    if not harfbuzz_subset_available():
        log.error("libharfbuzz-subset0 is missing: WeasyPrint falls back to fontTools and each Chinese "
                  "certificate takes seconds instead of a fraction of one (run `flask --app wsgi doctor`)")
    if not cjk_fonts():
        log.error("no Chinese font installed (fonts-noto-cjk): certificates would show empty boxes")
    if not certificate_fonts_built():
        log.error("the certificate fonts are not built (`make fonts`): each certificate takes longer")


@shared_task(
    name=jobs.FLUSH_OUTBOX,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(mailer.DeliveryFailed, *RETRYABLE),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=10,
    time_limit=300,
)
def flush_outbox() -> dict[str, int]:
    """Send the email waiting in the outbox (batches over one SMTP connection); with
    more than a batch waiting, another flush job is published to help."""
    outbox.flush_starting()
    return mailer.flush(more_waiting=lambda: jobs.publish(jobs.FLUSH_OUTBOX))


@shared_task(name="workers.tasks.sweep_outbox", acks_late=True, time_limit=120)
def sweep_outbox() -> int:
    """Publish a flush when email is left waiting (the broker was down after the commit, or
    a worker died, or the main queue has kept the workers busy). On the main queue: workers
    serve it before `mail`, so a flush there takes its turn among the work instead of
    waiting for a busy main queue to empty. Mail waits at most about the grace period and
    a sweep interval, however long a burst lasts."""
    ids = outbox.stranded(timedelta(seconds=current_app.config["SWEEP_GRACE_SECONDS"]),
                          timedelta(seconds=current_app.config["MAIL_SENDING_TIMEOUT_SECONDS"]))
    db.session.commit()
    if ids:
        # The main queue (scoring, routing, certificates): Celery's default, as configured.
        jobs.publish(jobs.FLUSH_OUTBOX, queue=flush_outbox.app.conf.task_default_queue)
    return len(ids)
