"""Signing in: password login (failed logins slowed per address, accounts locked except for
known devices), loading the user of a session or an API token, issuing API tokens."""
from __future__ import annotations

import hashlib
import math
import secrets
import time
from datetime import datetime, timedelta

from flask import current_app, request
from flask_babel import gettext as _
from itsdangerous import BadData, URLSafeTimedSerializer
from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import RedisError
from sqlalchemy.orm import joinedload
from sqlalchemy import bindparam, select
from werkzeug.security import check_password_hash, generate_password_hash

from rating import clock
from rating.errors import RateLimited, Unauthorized
from rating.extensions import db, limiter
from rating.models import ApiToken, User
from rating.platform import audit

# Checked against when the email is unknown, so that timing does not reveal accounts.
DUMMY_HASH = generate_password_hash("not-a-real-password")


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


def password_matches(pwhash: str, password: str) -> bool:
    return check_password_hash(pwhash, password)


# Built once: every request of a logged-in user runs one of these. Building the load per
# call (session.get with its options) costs CPU on every request.
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

    A success clears the address's count for the email and the account's. A refused login
    leaves the account's count written in the session, not committed: the caller commits it
    before it answers the Unauthorized."""
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
    correct = password_matches(user.password_hash if user is not None else DUMMY_HASH, password or "")
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
        raise Unauthorized(_("邮箱或密码不正确。"))
    if not user.active:
        raise Unauthorized(_("该账户已停用，请联系主管部门。"))
    _clear_failures(key)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now    # shown on the staff list
    db.session.flush()
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
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_DEVICE_SALT)


def device_cookie(user: User) -> str:
    """The value of DEVICE_COOKIE for a browser `user` has just logged in from."""
    return _device_serializer().dumps(user.id)


def device_user_id(value: str | None) -> int | None:
    """The account a DEVICE_COOKIE value names, or None (absent, forged, too old)."""
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
    db.session.flush()
    return token, expires_at


def client_address() -> str:
    return request.remote_addr or "unknown"
