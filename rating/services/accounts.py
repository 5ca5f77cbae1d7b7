"""Accounts: registration of firms, staff accounts, password login with lockout, API tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, request
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from rating import clock
from rating.errors import Conflict, RateLimited, Unauthorized, ValidationFailed
from rating.extensions import db
from rating.models import ApiToken, Enterprise, Jurisdiction, JurisdictionLevel, Role, User

# Checked against when the email is unknown, so that timing does not reveal accounts.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def load_user(user_id: str) -> User | None:
    try:
        # Pages show the user's jurisdiction: load it in the same round trip.
        return db.session.get(User, int(user_id), options=[joinedload(User.jurisdiction)])
    except (TypeError, ValueError):
        return None


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_user_from_request(req) -> User | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = header[len("Bearer "):].strip()
    if not token or len(token) > 200:
        return None
    row = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(token))
    ).scalar_one_or_none()
    if row is None or row.expires_at <= clock.now() or not row.user.active:
        return None
    return row.user


def authenticate(email: str, password: str) -> User:
    """Check a password; lock the account after too many consecutive failures."""
    user = db.session.execute(
        select(User).where(User.email == normalize_email(email or ""))
    ).scalar_one_or_none()
    now = clock.now()
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        raise Unauthorized(_("邮箱或密码不正确。"))
    if user.locked_until and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise RateLimited(_("登录失败次数过多，账户已临时锁定，请 %(n)s 分钟后再试。", n=minutes))
    if not check_password_hash(user.password_hash, password or ""):
        # One UPDATE so that concurrent failures are all counted.
        user.failed_logins = User.failed_logins + 1
        db.session.flush()
        db.session.refresh(user)
        if user.failed_logins >= current_app.config["LOGIN_FAILURE_LIMIT"]:
            user.locked_until = now + timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
            user.failed_logins = 0
        db.session.commit()
        raise Unauthorized(_("邮箱或密码不正确。"))
    if not user.active:
        raise Unauthorized(_("该账户已停用，请联系主管部门。"))
    if user.failed_logins or user.locked_until:
        user.failed_logins = 0
        user.locked_until = None
        db.session.commit()
    return user


def issue_token(user: User) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires_at = clock.now() + current_app.config["TOKEN_LIFETIME"]
    db.session.add(ApiToken(token_hash=_token_digest(token), user_id=user.id, expires_at=expires_at))
    db.session.commit()
    return token, expires_at


def county(code: str) -> Jurisdiction | None:
    row = db.session.get(Jurisdiction, code)
    return row if row is not None and row.level == JurisdictionLevel.county else None


def register_enterprise(data: dict) -> tuple[Enterprise, User]:
    """Create a firm and its first user in one transaction. `data` is validated form data."""
    if county(data["district_code"]) is None:
        raise ValidationFailed(
            _("所在区县不正确。"), {"district_code": [_("请选择本省的县（市、区）。")]}
        )
    email = normalize_email(data["email"])
    conflicts: dict[str, list[str]] = {}
    # Locked, so that two people claiming the same imported firm at once cannot both succeed.
    enterprise = db.session.execute(select(Enterprise).where(Enterprise.uscc == data["uscc"])
                                    .with_for_update()).scalar_one_or_none()
    # A firm known only from an imported ratings list has no account yet: the first to
    # register it completes the record (and finds its earlier ratings there).
    if enterprise is not None and (enterprise.contact_name is not None or enterprise.users):
        conflicts["uscc"] = [_("该统一社会信用代码已注册，请直接登录或联系本企业的账户管理人。")]
    if db.session.execute(select(User.id).where(func.lower(User.email) == email)).first():
        conflicts["email"] = [_("该邮箱已注册。")]
    if conflicts:
        raise Conflict(_("企业或邮箱已注册。"), conflicts)
    moved_from = enterprise.district_code if enterprise is not None else None
    if enterprise is None:
        enterprise = Enterprise(uscc=data["uscc"])
    enterprise.name = data["name"].strip()
    enterprise.district_code = data["district_code"]
    enterprise.industry = data["industry"]
    enterprise.scale = data["scale"]
    enterprise.contact_name = data["contact_name"].strip()
    enterprise.contact_phone = data["contact_phone"].strip()
    enterprise.email = email
    user = User(
        email=email,
        password_hash=hash_password(data["password"]),
        name=data["contact_name"].strip(),
        role=Role.enterprise,
        enterprise=enterprise,
    )
    db.session.add_all([enterprise, user])
    if moved_from is not None and moved_from != enterprise.district_code:
        # An imported firm registers in another district: its ratings count there now.
        from rating.services import aggregates

        db.session.flush()
        aggregates.refresh_district(moved_from)
        aggregates.refresh_district(enterprise.district_code)
    try:
        db.session.commit()
    except IntegrityError:
        # Lost a race with a concurrent registration of the same code or email.
        db.session.rollback()
        raise Conflict(_("企业或邮箱已注册。"), {"uscc": [_("该统一社会信用代码或邮箱已注册。")]})
    return enterprise, user


def create_staff(email: str, password: str, role: str, jurisdiction_code: str | None, name: str | None) -> User:
    if role not in Role.values() or role == Role.enterprise:
        raise ValidationFailed(_("角色不正确。"))
    if jurisdiction_code and db.session.get(Jurisdiction, jurisdiction_code) is None:
        raise ValidationFailed(_("行政区划代码 %(code)s 不存在。", code=jurisdiction_code))
    if role != Role.admin and not jurisdiction_code:
        raise ValidationFailed(_("请指定所属行政区划。"))
    email = normalize_email(email)
    if db.session.execute(select(User.id).where(User.email == email)).first():
        raise Conflict(_("该邮箱已注册。"))
    user = User(
        email=email,
        password_hash=hash_password(password),
        name=name or email.split("@")[0],
        role=role,
        jurisdiction_code=jurisdiction_code,
    )
    db.session.add(user)
    db.session.commit()
    return user


def client_address() -> str:
    return request.remote_addr or "unknown"
