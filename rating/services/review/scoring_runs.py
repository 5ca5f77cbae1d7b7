"""Scoring a submitted application (run by a worker) and sweeping up lost jobs.

Exactly-once: the move to review is a conditional UPDATE on (status, version) and the
score row is unique per (application, submission round), so a job that runs twice, or
two workers racing, leave one score and one history entry. On PostgreSQL a job scores a
batch of waiting submissions under row locks (see `score_application`); the others'
jobs then find theirs done.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, distinct, func, insert, or_, select, tuple_, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from rating import clock
from rating.extensions import db
from rating.models import (
    Application,
    ApplicationScore,
    ApplicationStatus,
    Batch,
    CloudService,
    Enterprise,
    Evidence,
    Jurisdiction,
    Payment,
    StatusChange,
    Stage,
)
from rating.rules import answers as answer_codec
from rating.rules import stages
from rating.rules.scoring import BatchWindow, PaymentIn, ServiceIn, score
from rating.platform import audit, jobs, outbox
from rating.services.review import routing
from rating.services.reference import edition_of_batch

log = logging.getLogger(__name__)


# Built once: constructing statements costs more than running them on this hot path. All
# are Core statements on the tables: on mapped classes they take the ORM's paths, which
# add CPU to every statement (py-spy over the scoring workers: much of their time was the
# ORM's bulk inserts and updates; selects of mapped columns pay its result handling).
_APPLICATIONS, _BATCHES, _FIRMS, _DIVISIONS, _SERVICES_T, _PAYMENTS = (
    model.__table__ for model in (Application, Batch, Enterprise, Jurisdiction, CloudService, Payment))
_A, _B, _F, _D, _S, _P = (table.c for table in (_APPLICATIONS, _BATCHES, _FIRMS, _DIVISIONS, _SERVICES_T, _PAYMENTS))
_MINE = Evidence.__table__.alias("mine")
_THEIRS = Evidence.__table__.alias("theirs")
_OTHER = _APPLICATIONS.alias("other")
# How many of this application's files another firm also uploaded (an anomaly flag),
# counted in the same round trip as the application itself. Each file asks whether one
# other firm's copy exists, and stops at the first: joining every copy made the cost grow
# with the number of firms holding the file (a template many firms upload: quadratic over
# a deadline day).
_SHARED_COUNT = (
    select(func.count(distinct(_MINE.c.sha256)))
    .where(_MINE.c.application_id == _A.id,
           select(_THEIRS.c.id).join(_OTHER, _OTHER.c.id == _THEIRS.c.application_id)
           .where(_THEIRS.c.sha256 == _MINE.c.sha256, _OTHER.c.enterprise_id != _A.enterprise_id)
           .correlate(_MINE, _APPLICATIONS).exists())
    .correlate(_APPLICATIONS)
    .scalar_subquery()
)
_SERVICES = (
    select(_S.application_id, _S.id, _S.provider, _S.service_name, _S.category, _S.deployment, _S.started_on,
           _S.ended_on, _P.paid_on, _P.amount)
    .select_from(_SERVICES_T.outerjoin(_PAYMENTS, _P.service_id == _S.id))
    .where(_S.application_id.in_(bindparam("application_ids", expanding=True)))
    .order_by(_S.application_id, _S.position, _S.id, _P.id)
)
_APPLICATION = (
    select(_A.id, _A.status, _A.version, _A.enterprise_id, _A.target_level, _A.answers, _A.submission_round,
           _A.resume_stage, _B.edition_code, _B.usage_cutoff, _B.investment_from, _B.investment_to,
           _B.county_review_days, _B.city_review_days, _B.province_review_days,
           # What routing needs: the firm and the jurisdictions that own each stage.
           _F.name.label("firm_name"), _F.group_name, _D.code.label("county_code"), _D.city_code, _D.province_code,
           _SHARED_COUNT.label("shared_evidence"))
    .select_from(_APPLICATIONS.join(_BATCHES, _B.id == _A.batch_id).join(_FIRMS, _F.id == _A.enterprise_id)
                 .join(_DIVISIONS, _D.code == _F.district_code))
    .where(_A.id.in_(bindparam("application_ids", expanding=True)), _A.status == ApplicationStatus.submitted)
    .order_by(_A.id)
)
_STATUS = select(_APPLICATIONS.c.status).where(_APPLICATIONS.c.id == bindparam("application_id"))
# FOR NO KEY UPDATE (as routing's locks): a row that merely references the application
# takes a key-share lock, which neither waits for a job nor makes one skip its application.
_LOCK_OWN = (select(_APPLICATIONS.c.id)
             .where(_APPLICATIONS.c.id == bindparam("application_id"),
                    _APPLICATIONS.c.status == ApplicationStatus.submitted)
             .with_for_update(skip_locked=True, key_share=True))
# Other submissions waiting for a score, oldest first, that no other worker is scoring
# (through the partial index on submitted applications).
_LOCK_WAITING = (select(_APPLICATIONS.c.id)
                 .where(_APPLICATIONS.c.status == ApplicationStatus.submitted,
                        _APPLICATIONS.c.id != bindparam("application_id"),
                        _APPLICATIONS.c.id.not_in(bindparam("failed", expanding=True)))
                 .order_by(_APPLICATIONS.c.id).limit(bindparam("n"))
                 .with_for_update(skip_locked=True, key_share=True))
# Only the versions that were read (a withdrawal and resubmission in between makes a new
# version, scored by its own job), and only submissions: the ids that moved come back.
_MOVE_TO_REVIEW = (
    update(_APPLICATIONS)
    .where(tuple_(_APPLICATIONS.c.id, _APPLICATIONS.c.version).in_(bindparam("seen", expanding=True)),
           _APPLICATIONS.c.status == ApplicationStatus.submitted)
    .values(status=ApplicationStatus.in_review,
            stage=func.coalesce(_APPLICATIONS.c.resume_stage, Stage.county.value), resume_stage=None,
            version=_APPLICATIONS.c.version + 1, updated_at=bindparam("moved_at"))
    .returning(_APPLICATIONS.c.id)
)
_INSERT_SCORE = insert(ApplicationScore.__table__)
_INSERT_CHANGE = insert(StatusChange.__table__)
# Ids that failed alone (a bug meeting unusual data): kept out of other jobs' batches in
# this process, so that one bad submission does not fail every batch it would join.
# Forgotten once scored or no longer submitted, and bounded (the oldest go first: one
# forgotten too early costs a batch that falls back to scoring each alone, nothing more).
_FAILED_ALONE: dict[int, None] = {}
_FAILED_ALONE_LIMIT = 1000


def _remember_failure(application_id: int) -> None:
    _FAILED_ALONE.pop(application_id, None)
    _FAILED_ALONE[application_id] = None
    while len(_FAILED_ALONE) > _FAILED_ALONE_LIMIT:
        del _FAILED_ALONE[next(iter(_FAILED_ALONE))]


def _services(application_ids: list[int]) -> dict[int, list[ServiceIn]]:
    rows = db.session.execute(_SERVICES, {"application_ids": application_ids}).all()
    services: dict[int, dict[int, tuple]] = {}
    payments: dict[int, list[PaymentIn]] = {}
    for row in rows:
        services.setdefault(row.application_id, {}).setdefault(row.id, row[2:8])
        if row.paid_on is not None:
            payments.setdefault(row.id, []).append(PaymentIn(paid_on=row.paid_on, amount=row.amount))
    return {application_id: [ServiceIn(*fields, payments=tuple(payments.get(sid, ())))
                             for sid, fields in by_id.items()]
            for application_id, by_id in services.items()}


def score_application(application_id: int, batch_size: int | None = None) -> str:
    """Score the current submission round, move it to its review stage and assign that
    stage to a reviewer, in one transaction.

    On PostgreSQL the job also takes up to `batch_size` (SCORING_BATCH_SIZE) other
    submissions that wait for a score and that no other worker holds (row locks, SKIP
    LOCKED), and scores them all with one statement per step: when thousands are
    submitted at once, most jobs then find theirs done and cost one look at its status.
    A job whose application another worker holds leaves it to that worker. Should the
    batch fail, it is rolled back and each of its applications is scored alone.

    The status-and-version guard on the UPDATE makes a second run, or a concurrent one,
    change nothing.

    A runner, not a use case: each batch (or, after a failed one, each application) is its
    own unit of work and commits here, so a task calls it and nothing else.
    """
    # Read outside a transaction: one round trip where BEGIN, SELECT and ROLLBACK were
    # three. Most jobs of a burst stop here, their application scored by another's batch.
    with db.engine.connect() as connection:
        status = connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            _STATUS, {"application_id": application_id}).scalar()
    if status is None:
        return "missing"
    if status != ApplicationStatus.submitted:
        if _FAILED_ALONE:
            _FAILED_ALONE.pop(application_id, None)
        return "skipped"
    if batch_size is None:
        batch_size = current_app.config["SCORING_BATCH_SIZE"]
    ids = [application_id]
    if db.engine.dialect.name != "postgresql":
        return _score(ids)  # one writer at a time: no batches, no row locks
    if db.session.execute(_LOCK_OWN, {"application_id": application_id}).first() is None:
        db.session.rollback()
        return "skipped"  # another worker's batch is scoring it (or it changed meanwhile)
    if batch_size > 1:
        ids += db.session.execute(_LOCK_WAITING, {"application_id": application_id, "n": batch_size - 1,
                                                  "failed": list(_FAILED_ALONE)}).scalars().all()
    if len(ids) == 1:
        return _score(ids)
    try:
        return _score(ids)
    except DBAPIError:
        db.session.rollback()
        raise  # the database: the job is retried
    except Exception:  # noqa: BLE001  (anything else: each is tried alone, below)
        db.session.rollback()
        log.exception("scoring a batch of %d failed; scoring each alone", len(ids))
    return _score_each(ids)


def _score_each(ids: list[int]) -> str:
    """After a batch failed: score each of its applications alone, so that only the one
    that fails is left (its own job fails and is retried; the sweeper publishes it again)
    and it joins no other batch of this process. The job's own outcome, or its error."""
    outcome, error = "skipped", None
    for application_id in ids:
        try:
            result = score_application(application_id, batch_size=1)
            _FAILED_ALONE.pop(application_id, None)
        except DBAPIError:
            raise
        except Exception as exc:  # noqa: BLE001
            db.session.rollback()
            _remember_failure(application_id)
            log.exception("scoring application %d failed", application_id)
            result, error = "failed", error or (exc if application_id == ids[0] else None)
        if application_id == ids[0]:
            outcome = result
    if error is not None:
        raise error
    return outcome


def _score(ids: list[int]) -> str:
    """Score the applications `ids` (the job's own first) and commit; the job's outcome."""
    rows = db.session.execute(_APPLICATION, {"application_ids": ids}).all()
    services = _services([row.id for row in rows])
    now = clock.now()
    results = {}
    for row in rows:
        edition = edition_of_batch(row.edition_code)
        results[row.id] = (edition, score(
            edition,
            row.target_level,
            answer_codec.for_scoring(edition, row.answers),
            services.get(row.id, []),
            BatchWindow(usage_cutoff=row.usage_cutoff, investment_from=row.investment_from,
                        investment_to=row.investment_to),
            shared_evidence=row.shared_evidence,
        ))
    moved = set(db.session.execute(_MOVE_TO_REVIEW, {
        "seen": [(row.id, row.version) for row in rows], "moved_at": now}).scalars()) if rows else set()
    if ids[0] not in moved:
        db.session.rollback()
        return "duplicate"
    rows = [row for row in rows if row.id in moved]
    scores, changes, routes = [], [], []
    for row in rows:
        edition, result = results[row.id]
        stage = row.resume_stage or Stage.county
        scores.append({
            "application_id": row.id, "round": row.submission_round, "level": row.target_level,
            "edition_code": edition.code, "edition_sha256": edition.sha256, "total": result.total,
            "max": result.max, "passed": result.passed, "investment_yuan": result.investment_yuan,
            "usage_months": result.usage_months, "detail": result.to_storage(), "scored_at": now,
        })
        changes.append({
            "application_id": row.id, "at": now, "actor_id": None, "action": "scored",
            "from_status": ApplicationStatus.submitted, "to_status": ApplicationStatus.in_review,
            "from_stage": None, "to_stage": stage, "comment": f"{result.total}/{result.max}",
        })
        audit.append("application.scored", "application", row.id, None, at=now,
                     from_status=ApplicationStatus.submitted.value, to_status=ApplicationStatus.in_review.value,
                     to_stage=str(stage), round=row.submission_round, total=str(result.total),
                     max=str(result.max), passed=result.passed, edition=edition.code)
        owner = stages.owner_code(stage, county=row.county_code, city=row.city_code,
                                  province=row.province_code)
        routes.append((routing.Subject(row.id, row.enterprise_id, row.group_name, row.firm_name, row.target_level,
                                       stage, row.submission_round, owner),
                       getattr(row, f"{stage}_review_days")))
    db.session.execute(_INSERT_SCORE, scores)
    db.session.execute(_INSERT_CHANGE, changes)
    outbox.queue_status_changes([(row.id, ApplicationStatus.in_review, subject.stage, None)
                                        for row, (subject, _days) in zip(rows, routes)])
    routing.assign_scored(routes, now)
    try:
        db.session.commit()
    except IntegrityError:
        # Another run of the same job got there first.
        db.session.rollback()
        return "duplicate"
    return "scored"


def claim_unscored(grace_seconds: int, limit: int = 1000) -> list[int]:
    """Submitted applications whose scoring request is older than the grace period.

    Marks them as requested again now, so that overlapping sweeps do not publish the
    same job twice, and has a scoring job published for each after the caller's commit.
    """
    now = clock.now()
    stale = now - timedelta(seconds=grace_seconds)
    ids = list(
        db.session.execute(
            select(Application.id)
            .where(
                Application.status == ApplicationStatus.submitted,
                or_(Application.score_requested_at.is_(None), Application.score_requested_at < stale),
            )
            .order_by(Application.id)
            .limit(limit)
        ).scalars()
    )
    if ids:
        db.session.execute(
            update(Application)
            .where(Application.id.in_(ids), Application.status == ApplicationStatus.submitted)
            .values(score_requested_at=now)
            .execution_options(synchronize_session=False)
        )
        for application_id in ids:
            jobs.later(jobs.SCORE_APPLICATION, application_id)
    return ids
