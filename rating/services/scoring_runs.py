"""Scoring a submitted application (run by a worker) and sweeping up lost jobs.

Exactly-once: the score row is unique per (application, submission round); the
application row is locked (PostgreSQL) and version-checked, so a job that runs twice,
or two workers racing, leave one score and one history entry.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from rating import clock
from rating.extensions import db
from rating.models import (
    Application,
    ApplicationScore,
    ApplicationStatus,
    CloudService,
    Evidence,
    Stage,
)
from rating.services import answers as answer_codec
from rating.services.applications import record
from rating.services.reference import get_edition
from rating.services.scoring import BatchWindow, PaymentIn, ServiceIn, score


def shared_evidence_hashes(application: Application) -> set[str]:
    """Hashes of this application's files that another firm also uploaded."""
    mine = {e.sha256 for e in application.evidence}
    if not mine:
        return set()
    rows = db.session.execute(
        select(Evidence.sha256)
        .join(Application, Evidence.application_id == Application.id)
        .where(Evidence.sha256.in_(mine), Application.enterprise_id != application.enterprise_id)
        .distinct()
    ).scalars()
    return set(rows)


def score_application(application_id: int) -> str:
    """Score the current submission round and route it to its review stage."""
    query = (
        select(Application)
        .where(Application.id == application_id)
        .options(
            selectinload(Application.services).selectinload(CloudService.payments),
            selectinload(Application.evidence),
        )
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Application)
    application = db.session.execute(query).scalar_one_or_none()
    if application is None:
        return "missing"
    if application.status != ApplicationStatus.submitted:
        db.session.rollback()
        return "skipped"
    batch = application.batch
    edition = get_edition(batch.edition_code)
    services = [
        ServiceIn(
            provider=s.provider,
            service_name=s.service_name,
            category=s.category,
            deployment=s.deployment,
            started_on=s.started_on,
            ended_on=s.ended_on,
            payments=tuple(PaymentIn(paid_on=p.paid_on, amount=p.amount) for p in s.payments),
        )
        for s in application.services
    ]
    result = score(
        edition,
        application.target_level,
        answer_codec.for_scoring(edition, application.answers),
        services,
        BatchWindow(
            usage_cutoff=batch.usage_cutoff,
            investment_from=batch.investment_from,
            investment_to=batch.investment_to,
        ),
        shared_evidence_hashes=shared_evidence_hashes(application),
    )
    db.session.add(
        ApplicationScore(
            application_id=application.id,
            round=application.submission_round,
            level=application.target_level,
            edition_code=edition.code,
            edition_sha256=edition.sha256,
            total=result.total,
            max=result.max,
            passed=result.passed,
            investment_yuan=result.investment_yuan,
            usage_months=result.usage_months,
            detail=result.to_storage(),
        )
    )
    application.status = ApplicationStatus.in_review
    application.stage = application.resume_stage or Stage.county
    application.resume_stage = None
    record(application, None, "scored", ApplicationStatus.submitted, None,
           f"{result.total}/{result.max}")
    try:
        db.session.commit()
    except (IntegrityError, StaleDataError):
        # Another run of the same job got there first.
        db.session.rollback()
        return "duplicate"
    return "scored"


def claim_unscored(grace_seconds: int, limit: int = 1000) -> list[int]:
    """Submitted applications whose scoring request is older than the grace period.

    Marks them as requested again now, so that overlapping sweeps do not publish the
    same job twice; the caller publishes one job per returned id.
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
    db.session.commit()
    return ids
