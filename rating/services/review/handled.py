"""What a reviewer has handled: the decisions they made (已办), newest first."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from rating.extensions import db
from rating.models import Application, Decision, Enterprise, StatusChange, User


@dataclass(frozen=True)
class Handled:
    application_id: int
    enterprise_name: str
    target_level: int
    decision: Decision
    from_stage: str | None
    at: datetime
    comment: str | None
    status_now: str


def handled_page(user: User, limit: int, offset: int = 0) -> tuple[list[Handled], int]:
    """One page of the decisions `user` made (one row per decision: an application returned
    and decided again shows twice), and how many there are."""
    mine = (StatusChange.actor_id == user.id) & StatusChange.action.in_(Decision.values())
    total = db.session.execute(select(func.count()).select_from(StatusChange).where(mine)).scalar_one()
    rows = db.session.execute(
        select(StatusChange.application_id, Enterprise.name, Application.target_level, StatusChange.action,
               StatusChange.from_stage, StatusChange.at, StatusChange.comment, Application.status)
        .join(Application, Application.id == StatusChange.application_id)
        .join(Enterprise, Enterprise.id == Application.enterprise_id)
        .where(mine).order_by(StatusChange.at.desc(), StatusChange.id.desc()).limit(limit).offset(offset)
    ).all()
    return [Handled(r[0], r[1], r[2], Decision(r[3]), r[4], r[5], r[6], r[7]) for r in rows], total
