"""Staff accounts managed by officials and administrators: listing those in one's scope,
inviting by email (a set-password link that works once and expires: the password-reset
token, made when the email is sent), and editing name, role, jurisdiction and whether the
account is active. A deactivated or moved reviewer's open assignments are routed again at once."""
from __future__ import annotations

import secrets

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from rating.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import Jurisdiction, ReviewAssignment, Role, User
from rating.models.types import valid_id
from rating.permissions import STAFF_RANK, acts_everywhere, can_manage_staff, can_manage_staff_as, inside
from rating.platform import audit, jobs, outbox
from rating.services.accounts.sessions import end_access
from rating.services.accounts.signin import client_address, hash_password, normalize_email
from rating.services.review import routing

PER_PAGE = 20


def _forbidden() -> Forbidden:
    return Forbidden(_("您只能管理本辖区内不高于自己角色的人员账户。"))


def listing(actor: User, q: str | None = None, role: str | None = None, active: bool | None = None,
            page: int = 1) -> tuple[list[User], int]:
    """Staff accounts in the actor's scope (administrators: all), matching `q` in the name or
    email; one page of them (by name) and how many there are."""
    if not can_manage_staff(actor):
        raise Forbidden(_("只有主管部门和系统管理员可以管理人员账户。"))
    query = select(User).where(User.role != Role.enterprise)
    if not acts_everywhere(actor):
        if actor.jurisdiction is None:
            raise _forbidden()
        query = query.join(Jurisdiction, Jurisdiction.code == User.jurisdiction_code).where(
            inside(actor.jurisdiction))
    if q:
        pattern = "%" + q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(func.lower(User.name).like(pattern, escape="\\"),
                                User.email.like(pattern, escape="\\")))
    if role:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active.is_(active))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(query.order_by(User.name, User.id).limit(PER_PAGE)
                              .offset((page - 1) * PER_PAGE)).scalars().all()
    return list(rows), total


def _jurisdiction(role: str, code: str | None) -> Jurisdiction | None:
    if role not in STAFF_RANK:
        raise ValidationFailed(_("角色不正确。"), {"role": [_("角色不正确。")]})
    if not code:
        if role == Role.admin:
            return None
        raise ValidationFailed(_("请指定所属行政区划。"), {"jurisdiction_code": [_("请填写所属行政区划代码。")]})
    division = db.session.get(Jurisdiction, code)
    if division is None:
        raise ValidationFailed(_("行政区划代码 %(code)s 不存在。", code=code),
                               {"jurisdiction_code": [_("行政区划代码不存在。")]})
    return division


def invite(actor: User, email: str, name: str, role: str, jurisdiction_code: str | None) -> User:
    """Create a staff account without a usable password and email it a set-password link."""
    division = _jurisdiction(role, jurisdiction_code)
    if not can_manage_staff_as(actor, role, division):
        raise _forbidden()
    email = normalize_email(email)
    if db.session.execute(select(User.id).where(User.email == email)).first():
        raise Conflict(_("该邮箱已有账户。"), {"email": [_("该邮箱已有账户。")]})
    user = User(email=email, name=name.strip(), role=role, jurisdiction_code=division.code if division else None,
                password_hash=hash_password(secrets.token_urlsafe(32)), locale=actor.locale)
    db.session.add(user)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict(_("该邮箱已有账户。"), {"email": [_("该邮箱已有账户。")]})
    audit.append("staff.invited", "user", user.id, actor.id, email=email, role=role,
                 jurisdiction_code=user.jurisdiction_code, address=client_address())
    outbox.queue_invitation(user, actor.name, current_app.config["PASSWORD_RESET_MINUTES"])
    if role == Role.reviewer:
        jobs.later(jobs.ROUTE_WAITING, user.jurisdiction_code)
    return user


def member(actor: User, user_id: int) -> User:
    """A staff account the actor may manage; 404 for one outside their scope or a firm's user."""
    if not can_manage_staff(actor):
        raise Forbidden(_("只有主管部门和系统管理员可以管理人员账户。"))
    user = db.session.get(User, user_id) if valid_id(user_id) else None
    if user is None or user.role == Role.enterprise or not can_manage_staff_as(actor, user.role, user.jurisdiction):
        raise NotFound(_("未找到该人员账户。"))
    return user


def update(actor: User, user: User, changes: dict) -> User:
    """Change some of name, role, jurisdiction_code and active (validated by the caller's form)."""
    role = changes.get("role", user.role)
    code = changes.get("jurisdiction_code", user.jurisdiction_code) if "jurisdiction_code" in changes \
        else user.jurisdiction_code
    division = _jurisdiction(role, code)
    if not can_manage_staff_as(actor, role, division):
        raise _forbidden()
    active = changes.get("active", user.active)
    if user.id == actor.id and (not active or role != user.role):
        raise ValidationFailed(_("不能停用自己的账户或更改自己的角色。"))
    before = {"name": user.name, "role": user.role, "jurisdiction_code": user.jurisdiction_code,
              "active": user.active}
    moved = role != user.role or (division.code if division else None) != user.jurisdiction_code
    user.name = changes.get("name", user.name)
    user.role = role
    user.jurisdiction_code = division.code if division else None
    db.session.flush()
    revoked = 0
    if active != user.active:
        revoked = end_access(user, active=active)
    after = {"name": user.name, "role": user.role, "jurisdiction_code": user.jurisdiction_code, "active": active}
    audit.append("staff.updated", "user", user.id, actor.id, before=before, after=after, tokens_revoked=revoked,
                 address=client_address())
    if not active or moved:
        reroute(user)
    if active and user.role == Role.reviewer:
        jobs.later(jobs.ROUTE_WAITING, user.jurisdiction_code)
    return user


def reroute(user: User) -> list[int]:
    """Route again, at once, every open assignment of a reviewer who may no longer hold it
    (deactivated, moved, no longer a reviewer); the ids of the applications."""
    ids = list(db.session.execute(select(ReviewAssignment.application_id).where(
        ReviewAssignment.reviewer_id == user.id, ReviewAssignment.closed_at.is_(None))
        .order_by(ReviewAssignment.application_id)).scalars())
    if ids:
        routing.close_open_many(ids, "reassigned")
        for application_id in ids:
            routing.route(application_id)
    return ids
