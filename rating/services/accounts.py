"""Accounts: registration of firms, staff accounts, password login with lockout, API tokens,
password reset by emailed link."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, request
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from rating import clock
from rating.errors import Conflict, RateLimited, Unauthorized, ValidationFailed
from rating.extensions import db
from rating.models import ApiToken, Enterprise, Jurisdiction, JurisdictionLevel, Role, User
from rating.services import audit

# Checked against when the email is unknown, so that timing does not reveal accounts.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def user_by_email(email: str | None) -> User | None:
    """The account of an address. None for one with a NUL, which no account has (PostgreSQL
    text cannot hold it, and a query that sent it would fail)."""
    email = normalize_email(email or "")
    if "\x00" in email:
        return None
    return db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()


def hash_password(password: str) -> str:
    return generate_password_hash(password)


# Built once: every request of a logged-in user runs one of these. Building the load per
# call (session.get with its options) cost about 0.4 ms of CPU more per request.
# Pages show the user's jurisdiction, and scoped queries read it: loaded in the same round trip.
_USER = select(User).options(joinedload(User.jurisdiction)).where(User.id == bindparam("id"))
_TOKEN_USER = (select(ApiToken).where(ApiToken.token_hash == bindparam("digest"))
               .options(joinedload(ApiToken.user).joinedload(User.jurisdiction)))


def load_user(session_id: str) -> User | None:
    """The user a browser session names ("id:version", User.get_id), while the account is
    active and its session version is still the one the session was opened with: raising
    the version (logout, a password change or reset, deactivation, "sign out everywhere")
    ends every session at once. A session of the old form (a bare id) no longer counts."""
    user_id, _colon, version = (session_id or "").partition(":")
    try:
        user_id, version = int(user_id), int(version)
    except (TypeError, ValueError):
        return None
    user = db.session.execute(_USER, {"id": user_id}).scalar_one_or_none()
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_of_request(req) -> ApiToken | None:
    """The valid API token a request presents (its user active), or None."""
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = header[len("Bearer "):].strip()
    if not token or len(token) > 200:
        return None
    row = db.session.execute(_TOKEN_USER, {"digest": _token_digest(token)}).scalar_one_or_none()
    if row is None or row.expires_at <= clock.now() or not row.user.active:
        return None
    return row


def load_user_from_request(req) -> User | None:
    row = token_of_request(req)
    return row.user if row is not None else None


def authenticate(email: str, password: str) -> User:
    """Check a password; lock the account after too many consecutive failures."""
    user = user_by_email(email)
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
            audit.append("account.locked", "user", user.id, None, failures=user.failed_logins,
                         until=user.locked_until.isoformat(), address=client_address())
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
                                    .with_for_update(key_share=True)).scalar_one_or_none()
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


# Password reset: a signed, timed token naming the user and a fingerprint of the password
# hash it was issued against, so it stops working once the password changes (single use)
# and after PASSWORD_RESET_MINUTES. Nothing is stored; the email is the only copy.
_RESET_SALT = "rating.password-reset"


def _reset_serializer():
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_RESET_SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def reset_token(user: User) -> str:
    return _reset_serializer().dumps({"u": user.id, "f": _fingerprint(user)})


def request_password_reset(email: str) -> None:
    """Email a reset link when the address belongs to an active account. The caller says
    the same thing either way, so the form does not reveal who has an account."""
    from rating.services import notifications

    user = user_by_email(email)
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, "x")    # about the same time either way
        return
    link = f"{current_app.config['PUBLIC_BASE_URL']}/password/reset/{reset_token(user)}"
    notifications.queue_password_reset(user, link, current_app.config["PASSWORD_RESET_MINUTES"])
    audit.append("account.reset_requested", "user", user.id, None, address=client_address())
    db.session.commit()


def user_for_reset(token: str) -> User:
    """The user a reset link is for, or ValidationFailed saying why it cannot be used."""
    from itsdangerous import BadSignature, SignatureExpired

    try:
        data = _reset_serializer().loads(token or "", max_age=current_app.config["PASSWORD_RESET_MINUTES"] * 60)
    except SignatureExpired:
        raise ValidationFailed(_("重置链接已过期，请重新申请。"))
    except BadSignature:
        raise ValidationFailed(_("重置链接无效，请重新申请。"))
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) and isinstance(data.get("u"), int) else None
    if user is None or not user.active or data.get("f") != _fingerprint(user):
        raise ValidationFailed(_("重置链接已使用过或已失效，请重新申请。"))
    return user


def reset_password(token: str, password: str) -> User:
    """Set a new password through a reset link: the link is spent, the lockout lifted, and
    the account's browser sessions ended and API tokens revoked."""
    user = user_for_reset(token)
    moved = db.session.execute(
        update(User).where(User.id == user.id, User.password_hash == user.password_hash)
        .values(password_hash=hash_password(password), failed_logins=0, locked_until=None,
                session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:          # a concurrent use of the same link won
        db.session.rollback()
        raise ValidationFailed(_("重置链接已使用过或已失效，请重新申请。"))
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    audit.append("account.password_reset", "user", user.id, user.id, address=client_address())
    db.session.commit()
    db.session.refresh(user)
    return user
