"""Password reset by emailed link."""
from __future__ import annotations

import hashlib

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, update

from rating.errors import ValidationFailed
from rating.extensions import db
from rating.models import ApiToken, User
from rating.platform import audit, outbox
from rating.services.accounts.signin import DUMMY_HASH, client_address, hash_password, password_matches, user_by_email

# Password reset: a signed, timed token naming the user and a fingerprint of the password
# hash it was issued against, so it stops working once the password changes (single use)
# and after PASSWORD_RESET_MINUTES. Nothing is stored: the outbox keeps the email without
# its link, which the sender makes as it sends (mailer._with_reset_links), so the
# email that arrives is the only copy.
_RESET_SALT = "rating.password-reset"


def _reset_serializer():
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
    user = user_by_email(email)
    if user is None or not user.active:
        password_matches(DUMMY_HASH, "x")    # about the same time either way
        return
    outbox.queue_password_reset(user, current_app.config["PASSWORD_RESET_MINUTES"])
    audit.append("account.reset_requested", "user", user.id, None, address=client_address())


def user_for_reset(token: str) -> User:
    """The user a reset link is for, or ValidationFailed saying why it cannot be used."""
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
        raise ValidationFailed(_("重置链接已使用过或已失效，请重新申请。"))
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    audit.append("account.password_reset", "user", user.id, user.id, address=client_address())
    db.session.refresh(user)
    return user
