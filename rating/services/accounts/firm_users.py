"""A firm's own accounts, managed by its administrator (the firm's first user): inviting a
colleague by email, making colleagues administrators, deactivating them. A firm always
keeps one active administrator. And one's own profile: name, phone, language."""
from __future__ import annotations

import secrets

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rating.errors import Conflict, Forbidden, NotFound
from rating.extensions import db
from rating.models import Enterprise, Role, User
from rating.models.types import valid_id
from rating.permissions import acting_enterprise_id, can_manage_firm_users, is_firm_user
from rating.platform import audit, outbox
from rating.services.accounts.sessions import end_access
from rating.services.accounts.signin import client_address, hash_password, normalize_email


def colleagues(actor: User) -> list[User]:
    """The users of the actor's firm (any of its users may see who they are)."""
    firm = acting_enterprise_id(actor) if is_firm_user(actor) else None
    if firm is None:
        raise Forbidden(_("只有企业用户可以查看本企业的账户。"))
    return list(db.session.execute(select(User).where(User.enterprise_id == firm)
                                   .order_by(User.id)).scalars())


def _require_admin(actor: User) -> int:
    if not can_manage_firm_users(actor):
        raise Forbidden(_("只有本企业的管理员可以管理企业账户。"))
    return actor.enterprise_id


def invite(actor: User, email: str, name: str) -> User:
    firm = _require_admin(actor)
    email = normalize_email(email)
    if db.session.execute(select(User.id).where(User.email == email)).first():
        raise Conflict(_("该邮箱已有账户。"), {"email": [_("该邮箱已有账户。")]})
    user = User(email=email, name=name.strip(), role=Role.enterprise, enterprise_id=firm,
                password_hash=hash_password(secrets.token_urlsafe(32)), locale=actor.locale)
    db.session.add(user)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict(_("该邮箱已有账户。"), {"email": [_("该邮箱已有账户。")]})
    audit.append("firm_user.invited", "enterprise", firm, actor.id, user_id=user.id, email=email,
                 address=client_address())
    outbox.queue_invitation(user, actor.name, current_app.config["PASSWORD_RESET_MINUTES"])
    return user


def update(actor: User, user_id: int, is_admin: bool | None, active: bool | None) -> User:
    """Make a colleague an administrator or not, deactivate or reactivate them; 409 when the
    firm would be left without an active administrator."""
    firm = _require_admin(actor)
    # The firm's row locked: two administrators demoting each other at once both count.
    db.session.execute(select(Enterprise.id).where(Enterprise.id == firm).with_for_update())
    user = db.session.get(User, user_id) if valid_id(user_id) else None
    if user is None or user.enterprise_id != firm:
        raise NotFound(_("未找到该账户。"))
    before = {"is_admin": user.is_firm_admin, "active": user.active}
    new_admin = user.is_firm_admin if is_admin is None else is_admin
    new_active = user.active if active is None else active
    others = db.session.execute(select(User.id).where(
        User.enterprise_id == firm, User.id != user.id, User.is_firm_admin.is_(True), User.active.is_(True))
        .limit(1)).first()
    if not (new_admin and new_active) and others is None:
        raise Conflict(_("企业必须至少保留一名启用的管理员，请先指定其他管理员。"))
    user.is_firm_admin = new_admin
    db.session.flush()
    revoked = end_access(user, active=new_active) if new_active != user.active else 0
    audit.append("firm_user.updated", "enterprise", firm, actor.id, user_id=user.id, before=before,
                 after={"is_admin": new_admin, "active": new_active}, tokens_revoked=revoked,
                 address=client_address())
    db.session.refresh(user)
    return user


def update_profile(user: User, changes: dict) -> User:
    """One's own name, phone and language (emails are written in it)."""
    before = {key: getattr(user, key) for key in changes}
    for key, value in changes.items():
        setattr(user, key, value or None if key == "phone" else value)
    db.session.flush()
    audit.append("account.profile_updated", "user", user.id, user.id, before=before,
                 after={key: getattr(user, key) for key in changes}, address=client_address())
    return user
