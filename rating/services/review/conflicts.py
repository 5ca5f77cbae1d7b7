"""Declared conflicts of interest read back and withdrawn: a reviewer lists and withdraws their
own, officials see the declarations of the reviewers and experts in their scope. Declaring is
`assignments.declare_conflict` (it hands conflicting open assignments back to the router)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from rating.errors import Forbidden, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import Enterprise, Jurisdiction, ReviewerConflict, Role, User
from rating.models.types import valid_id
from rating.permissions import QUEUE_HOLDERS, inside, is_official, staff_scope
from rating.platform import audit


@dataclass(frozen=True)
class Declared:
    id: int
    reviewer_id: int
    reviewer_name: str
    enterprise_id: int | None
    enterprise_name: str | None
    uscc: str | None
    group_name: str | None
    provider_name: str | None
    note: str | None
    declared_at: datetime


def visible(user: User) -> list[Declared]:
    """The reviewer's or expert's own declarations; an official's: those of the staff in scope."""
    query = (select(ReviewerConflict, User.name, Enterprise.name, Enterprise.uscc)
             .join(User, User.id == ReviewerConflict.reviewer_id)
             .outerjoin(Enterprise, Enterprise.id == ReviewerConflict.enterprise_id)
             .order_by(ReviewerConflict.declared_at.desc(), ReviewerConflict.id.desc()))
    if user.role in QUEUE_HOLDERS:
        query = query.where(ReviewerConflict.reviewer_id == user.id)
    elif is_official(user):
        if user.role != Role.admin:
            query = (query.join(Jurisdiction, Jurisdiction.code == User.jurisdiction_code)
                     .where(inside(staff_scope(user))))
    else:
        raise Forbidden(_("只有审核人员和主管部门人员可以查看回避声明。"))
    return [Declared(c.id, c.reviewer_id, reviewer, c.enterprise_id, firm, uscc, c.group_name, c.provider_name,
                     c.note, c.declared_at)
            for c, reviewer, firm, uscc in db.session.execute(query)]


def withdraw(user: User, conflict_id: int) -> None:
    """The reviewer withdraws one of their own declarations (nobody else can)."""
    conflict = db.session.get(ReviewerConflict, conflict_id) if valid_id(conflict_id) else None
    if conflict is None or conflict.reviewer_id != user.id:
        raise NotFound(_("未找到该回避声明。"))
    audit.append("conflict.withdraw", "user", user.id, user.id, conflict_id=conflict.id,
                 enterprise_id=conflict.enterprise_id, group_name=conflict.group_name,
                 provider_name=conflict.provider_name)
    db.session.delete(conflict)
    db.session.flush()


def enterprise_by_uscc(uscc: str) -> int:
    """The firm a credit code names, for declaring a conflict on the page; 422 when none."""
    found = db.session.execute(select(Enterprise.id).where(Enterprise.uscc == uscc.strip().upper())).scalar()
    if found is None:
        message = _("没有统一社会信用代码为 %(uscc)s 的企业。", uscc=uscc)
        raise ValidationFailed(message, {"uscc": [message]})
    return found
