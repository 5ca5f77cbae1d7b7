"""Jobs for the workers, published once the change that wants them has committed.

A use case records the jobs it wants with `later(task, *ids)`, inside its transaction;
one listener publishes them after the commit (each once, in the order recorded); a
rollback, or a session closed without committing, forgets them. The rating package
names a task by its name only (the constants below) and never imports `workers`.

A broker that is down delays a job but does not lose it: the publish is logged, and the
beat sweepers publish again what the database shows as still waiting (submitted but
unscored applications, in-review applications without a reviewer, certificates not
rendered, export jobs not built, mail not sent).

While a worker task runs (`collected_until_done`), the jobs of all its commits are
published once, when the task ends. A task whose publishing its owner decides (the
outbox's flush, one per burst of writers) is handed to the function registered for it
with `publish_with`.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import time
from collections.abc import Callable, Iterator

from celery import Celery, Task
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from rating.extensions import db

log = logging.getLogger(__name__)

SCORE_APPLICATION = "workers.tasks.score_application"
ROUTE_APPLICATION = "workers.tasks.route_application"
ROUTE_WAITING = "workers.tasks.route_waiting"
RENDER_CERTIFICATE = "workers.tasks.render_certificate"
BUILD_EXPORT = "workers.tasks.build_export"
FLUSH_OUTBOX = "workers.tasks.flush_outbox"
NAMES = (SCORE_APPLICATION, ROUTE_APPLICATION, ROUTE_WAITING, RENDER_CERTIFICATE, BUILD_EXPORT, FLUSH_OUTBOX)

_SESSION_KEY = "rating_jobs"
Job = tuple[str, tuple]

_publishers: dict[str, Callable[..., object]] = {}
_collected: contextvars.ContextVar[dict[Job, None] | None] = contextvars.ContextVar("rating_jobs_task",
                                                                                     default=None)


def init_celery(app: Flask) -> Celery:
    """The app's Celery instance, which jobs are published to (Flask's documented pattern:
    every task runs inside the app context)."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                # The jobs of all the task's commits, published once when it ends (one
                # flush for all the email it committed, not one per commit).
                with collected_until_done():
                    return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def later(task: str, *args: object) -> None:
    """Publish `task(*args)` once the current transaction commits (once, however often asked)."""
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback before any statement forgets the job too
    session.info.setdefault(_SESSION_KEY, {})[(task, args)] = None


def publish_with(task: str, publisher: Callable[..., object]) -> None:
    """Have `publisher(*args)` publish `task` instead of a plain publish."""
    _publishers[task] = publisher


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the jobs wait for the real commit
    jobs = session.info.pop(_SESSION_KEY, None)
    if not jobs:
        return
    collected = _collected.get()
    if collected is not None:
        collected.update(jobs)
    else:
        _publish_all(jobs)


# Fires after `after_commit` (which took the jobs already), and on every rollback or close
# of the outermost transaction, including one that never reached the database (where
# `after_rollback` does not fire): whatever is still recorded then is forgotten. A savepoint
# that rolls back keeps the jobs recorded inside it (a job for a change that did not happen
# finds nothing to do: every task is idempotent).
@event.listens_for(Session, "after_transaction_end")
def _forget_without_commit(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_SESSION_KEY, None)


@contextlib.contextmanager
def collected_until_done() -> Iterator[None]:
    """Around a worker task: the jobs its commits want are published once, when it ends."""
    jobs: dict[Job, None] = {}
    token = _collected.set(jobs)
    try:
        yield
    finally:
        _collected.reset(token)
        _publish_all(jobs)


def _publish_all(jobs: dict[Job, None]) -> None:
    for task, args in jobs:
        publisher = _publishers.get(task)
        if publisher is not None:
            publisher(*args)
        else:
            publish(task, *args)


# Once a publish has failed, the next ones for a while are tried once, without the retries
# and their pauses: while the broker is down each would otherwise hold its request for the
# retries (a submission publishes two jobs), and the sweepers publish whatever fails anyway.
RECENT_FAILURE_SECONDS = 10.0
_last_failure = {"at": float("-inf")}


def publish(task: str, *args: object, countdown: float | None = None, queue: str | None = None) -> bool:
    """Publish `task(*args)` now (to start `countdown` seconds from now, if given; on `queue`
    instead of its own, if given); when the broker is down, log and let the beat sweepers
    catch up. False when it could not be published."""
    recently_failed = time.monotonic() - _last_failure["at"] < RECENT_FAILURE_SECONDS
    policy = ({"max_retries": 0} if recently_failed else
              {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1})
    try:
        current_app.extensions["celery"].send_task(
            task, args, retry=True, retry_policy=policy, countdown=countdown or None,
            **({"queue": queue} if queue else {}))
    except Exception:  # noqa: BLE001  (any broker failure: a sweeper covers it)
        _last_failure["at"] = time.monotonic()
        log.warning("could not publish %s%r; a sweeper will", task, args, exc_info=not recently_failed)
        return False
    _last_failure["at"] = float("-inf")
    return True
