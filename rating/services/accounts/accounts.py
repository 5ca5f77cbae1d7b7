"""Accounts: registration of firms, staff accounts, password login (failed logins slowed
per address, accounts locked except for known devices), API tokens, password reset by
emailed link."""
from __future__ import annotations

import hashlib
import math
import secrets
import time
from datetime import datetime, timedelta

from flask import current_app, request
from flask_babel import gettext as _
from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError
from sqlalchemy.orm import joinedload
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from rating import clock
from rating.errors import Conflict, RateLimited, Unauthorized, ValidationFailed
from rating.extensions import db, limiter
from rating.models import ApiToken, Enterprise, Jurisdiction, JurisdictionLevel, Role, User
from rating.platform import audit
from rating.services.accounts import claims

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


def authenticate(email: str, password: str, device: str | None = None) -> User:
    """Check a password, slowing down whoever guesses without letting them lock the owner
    out, and answering alike whether or not the email has an account (README, "Accounts"):

    - failures are counted per email and client address, in the rate limiter's storage:
      after LOGIN_FAILURE_LIMIT of them within LOGIN_LOCK_MINUTES, that address may not try
      that email until the window ends (429, in the same words for an email without an
      account). The owner, from anywhere else, is not held up by it;
    - and per account (users.failed_logins): LOGIN_ACCOUNT_FAILURE_LIMIT failures in a row,
      from anywhere, lock it for LOGIN_LOCK_MINUTES, but only for browsers it has not logged
      in from. For those, while it is locked, every try, right password or wrong, is
      answered and counted as a wrong one: the lock tells nothing of the account or the
      password;
    - a correct password from a known device (`device`: the DEVICE_COOKIE a login here set
      for this account) passes both. The API sends no such cookie.

    A success clears the address's count for the email and the account's."""
    config = current_app.config
    user = user_by_email(email)
    known = user is not None and device_user_id(device) == user.id
    address = client_address()
    key = _failure_key(email, address)
    if not known:
        minutes = _paused_minutes(key)
        if minutes:
            raise RateLimited(_("该邮箱在此处登录失败次数过多，已暂停从此处登录，请 %(n)s 分钟后再试。", n=minutes))
    now = clock.now()
    correct = check_password_hash(user.password_hash if user is not None else _DUMMY_HASH, password or "")
    locked = user is not None and not known and user.locked_until is not None and user.locked_until > now
    if user is None or not correct or locked:
        paused = _count_failure(key)
        if user is not None:
            if not locked:
                # One UPDATE so that concurrent failures are all counted.
                user.failed_logins = User.failed_logins + 1
                db.session.flush()
                db.session.refresh(user)
                if user.failed_logins >= config["LOGIN_ACCOUNT_FAILURE_LIMIT"]:
                    user.locked_until = now + timedelta(minutes=config["LOGIN_LOCK_MINUTES"])
                    audit.append("account.locked", "user", user.id, None, failures=user.failed_logins,
                                 until=user.locked_until.isoformat(), address=address)
                    user.failed_logins = 0
            if paused:
                audit.append("account.login_paused", "user", user.id, None,
                             failures=config["LOGIN_FAILURE_LIMIT"], address=address)
            db.session.commit()
        raise Unauthorized(_("邮箱或密码不正确。"))
    if not user.active:
        raise Unauthorized(_("该账户已停用，请联系主管部门。"))
    _clear_failures(key)
    if user.failed_logins or user.locked_until:
        user.failed_logins = 0
        user.locked_until = None
        db.session.commit()
    return user


_FAILURES = "login-failures"


def _failure_key(email: str | None, address: str) -> tuple[str, str, str]:
    """The counter of an email's failed logins from one client address. The email is hashed:
    the limiter's storage holds no addresses people typed."""
    digest = hashlib.sha256(normalize_email(email or "").encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return _FAILURES, digest, address


def _failure_window() -> RateLimitItemPerMinute:
    config = current_app.config
    return RateLimitItemPerMinute(config["LOGIN_FAILURE_LIMIT"], config["LOGIN_LOCK_MINUTES"])


def _counters(call):
    """`call(strategy)` on the rate limiter's storage (Redis when REDIS_URL is set), or,
    while that cannot be reached, on this process's memory, as the limiter itself does."""
    try:
        return call(limiter.limiter)
    except (StorageError, RedisError, OSError):
        fallback = current_app.extensions.get("rating_login_failures")
        if fallback is None:
            fallback = current_app.extensions["rating_login_failures"] = FixedWindowRateLimiter(MemoryStorage())
        return call(fallback)


def _paused_minutes(key) -> int:
    """Minutes until the address may try the email again; 0 when it may now."""
    window = _failure_window()

    def paused(strategy):
        if strategy.test(window, *key):
            return 0
        return max(1, math.ceil((strategy.get_window_stats(window, *key).reset_time - time.time()) / 60))
    return _counters(paused)


def _count_failure(key) -> bool:
    """Count a failure; True when it is the one that pauses the address for the email."""
    window = _failure_window()
    return _counters(lambda strategy: strategy.hit(window, *key) and not strategy.test(window, *key))


def _clear_failures(key) -> None:
    window = _failure_window()
    _counters(lambda strategy: strategy.clear(window, *key))


# Known devices: a browser an account has logged in from carries a signed cookie naming it
# (set by the login view, KNOWN_DEVICE_DAYS long), and a correct password from it passes
# the failed-login pauses of `authenticate`. It grants nothing by itself.
DEVICE_COOKIE = "rating_device"
_DEVICE_SALT = "rating.known-device"


def _device_serializer():
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_DEVICE_SALT)


def device_cookie(user: User) -> str:
    """The value of DEVICE_COOKIE for a browser `user` has just logged in from."""
    return _device_serializer().dumps(user.id)


def device_user_id(value: str | None) -> int | None:
    """The account a DEVICE_COOKIE value names, or None (absent, forged, too old)."""
    from itsdangerous import BadData

    if not value or len(value) > 200:
        return None
    try:
        user_id = _device_serializer().loads(value, max_age=current_app.config["KNOWN_DEVICE_DAYS"] * 86400)
    except BadData:
        return None
    return user_id if isinstance(user_id, int) else None


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
    """Create a firm and its first user in one transaction. `data` is validated form data.

    A credit code known only from an imported ratings list gives the account and a pending
    claim instead (claims.file_claim): the firm's record stays as imported until an official
    of its county confirms the claim (`permissions.claim_pending(user)` tells which)."""
    if county(data["district_code"]) is None:
        raise ValidationFailed(
            _("所在区县不正确。"), {"district_code": [_("请选择本省的县（市、区）。")]}
        )
    email = normalize_email(data["email"])
    conflicts: dict[str, list[str]] = {}
    # Key-share locked: claims of the same imported firm may be filed side by side, while an
    # approval (which locks the row for update) waits for them, and they for it.
    enterprise = db.session.execute(select(Enterprise).where(Enterprise.uscc == data["uscc"])
                                    .with_for_update(key_share=True)).scalar_one_or_none()
    claimed = enterprise is not None and claims.claimable(enterprise)
    if enterprise is not None and not claimed:
        conflicts["uscc"] = [_("该统一社会信用代码已注册，请直接登录或联系本企业的账户管理人。")]
    if db.session.execute(select(User.id).where(func.lower(User.email) == email)).first():
        conflicts["email"] = [_("该邮箱已注册。")]
    if conflicts:
        raise Conflict(_("企业或邮箱已注册。"), conflicts)
    if claimed:
        user = claims.file_claim(enterprise, data, email, hash_password(data["password"]))
    else:
        enterprise = Enterprise(uscc=data["uscc"], name=data["name"].strip(), district_code=data["district_code"],
                                industry=data["industry"], scale=data["scale"],
                                contact_name=data["contact_name"].strip(),
                                contact_phone=data["contact_phone"].strip(), email=email)
        user = User(
            email=email,
            password_hash=hash_password(data["password"]),
            name=data["contact_name"].strip(),
            role=Role.enterprise,
            enterprise=enterprise,
        )
        db.session.add_all([enterprise, user])
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
# and after PASSWORD_RESET_MINUTES. Nothing is stored: the outbox keeps the email without
# its link, which the sender makes as it sends (mailer._with_reset_links), so the
# email that arrives is the only copy.
_RESET_SALT = "rating.password-reset"


def _reset_serializer():
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_RESET_SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def reset_token(user: User) -> str:
    """A fresh reset token; `user` needs only `id` and `password_hash` (a row will do)."""
    return _reset_serializer().dumps({"u": user.id, "f": _fingerprint(user)})


def reset_link(user: User) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/password/reset/{reset_token(user)}"


def request_password_reset(email: str) -> None:
    """Email a reset link when the address belongs to an active account. The caller says
    the same thing either way, so the form does not reveal who has an account."""
    from rating.platform import outbox

    user = user_by_email(email)
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, "x")    # about the same time either way
        return
    outbox.queue_password_reset(user, current_app.config["PASSWORD_RESET_MINUTES"])
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
