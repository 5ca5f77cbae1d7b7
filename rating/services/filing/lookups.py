"""Finding applications and their evidence for the pages and the API (reads only).

Scope checks stay with the caller's `permissions` (`can_view_application`,
`scope_applications`); these functions only load.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from rating.extensions import db
from rating.models import Application, Evidence, User
from rating.models.types import valid_id
from rating.permissions import scope_applications


def get_application(application_id: int) -> Application | None:
    return db.session.execute(
        select(Application).where(Application.id == application_id)
    ).scalar_one_or_none()


def applications_of_enterprise(enterprise_id: int) -> list[Application]:
    """A firm's applications, newest first, with what its dashboard shows of each."""
    return list(db.session.execute(
        select(Application).where(Application.enterprise_id == enterprise_id)
        .options(selectinload(Application.batch), selectinload(Application.scores))
        .order_by(Application.id.desc())
    ).scalars())


def evidence_of(application: Application, evidence_id) -> Evidence | None:
    """One evidence file of `application`; None for another application's file or a bad id."""
    evidence = db.session.get(Evidence, evidence_id) if valid_id(evidence_id) else None
    if evidence is None or evidence.application_id != application.id:
        return None
    return evidence


def page_of_applications(user: User, status: str | None, stage: str | None, page: int,
                         page_size: int) -> tuple[list[Application], int]:
    """One page (from 1) of the applications `user` may see, newest first, and their total."""
    query = scope_applications(select(Application), user)
    if status:
        query = query.where(Application.status == status)
    if stage:
        query = query.where(Application.stage == stage)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(
        query.options(selectinload(Application.enterprise), selectinload(Application.scores))
        .order_by(Application.id.desc()).limit(page_size).offset((page - 1) * page_size)
    ).scalars().all()
    return list(rows), total
