"""Ending what lets an account in: its browser sessions and its API tokens.

A browser session is a signed cookie naming the account and its session version
(User.get_id); signin.load_user honours it only while that version is still the
account's, so one UPDATE of the version ends every session of the account at once,
wherever its cookies were copied to. An API token is a row: revoking it deletes the row.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import delete, select, update

from rating import clock
from rating.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import ApiToken, User
from rating.models.types import valid_id
from rating.permissions import can_manage_accounts
from rating.platform import audit
from rating.services.accounts.signin import client_address, hash_password, password_matches, user_by_email


def _end_sessions(user: User, **values) -> None:
    """Raise the session version (and set `values`) in one UPDATE, so that concurrent
    changes all count."""
    db.session.execute(update(User).where(User.id == user.id)
                       .values(session_version=User.session_version + 1, **values)
                       .execution_options(synchronize_session=False))
    db.session.expire(user, ["session_version", *values])


def _delete_tokens(user: User, *where) -> list[int]:
    """Delete the user's tokens (those matching `where`); their ids."""
    return list(db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id, *where)
                                   .returning(ApiToken.id)).scalars())


def end_access(user: User, **values) -> int:
    """End every browser session and API token of the account (setting `values` in the same
    UPDATE, e.g. active=False); how many tokens were revoked."""
    _end_sessions(user, **values)
    return len(_delete_tokens(user))


def log_out(user: User, *, revoke_tokens: bool = False) -> None:
    """Logging out ends every browser session of the account, a copied cookie's too; on
    request the account's API tokens as well."""
    _end_sessions(user)
    revoked = _delete_tokens(user) if revoke_tokens else []
    audit.append("account.logged_out", "user", user.id, user.id, tokens_revoked=len(revoked),
                 address=client_address())


def sign_out_elsewhere(user: User) -> None:
    """End the account's browser sessions; the caller logs the current one in again."""
    _end_sessions(user)
    audit.append("account.signed_out_elsewhere", "user", user.id, user.id, address=client_address())


def sign_out_everywhere(actor: User, user: User) -> None:
    """An administrator ends every browser session and every API token of an account."""
    if not can_manage_accounts(actor):
        raise Forbidden(_("只有系统管理员可以强制其他账户退出登录。"))
    _end_sessions(user)
    revoked = _delete_tokens(user)
    audit.append("account.signed_out_everywhere", "user", user.id, actor.id, tokens_revoked=len(revoked),
                 address=client_address())


def set_active(actor: User, user: User, active: bool) -> None:
    """Deactivate or reactivate an account (administrators). Either way its sessions end and
    its tokens are revoked; a deactivated account cannot log in until reactivated."""
    if not can_manage_accounts(actor):
        raise Forbidden(_("只有系统管理员可以停用或启用账户。"))
    if user.id == actor.id and not active:
        raise ValidationFailed(_("不能停用自己的账户。"))
    if user.active == active:
        raise Conflict(_("该账户已是启用状态。") if active else _("该账户已是停用状态。"))
    _end_sessions(user, active=active)
    revoked = _delete_tokens(user)
    audit.append("account.reactivated" if active else "account.deactivated", "user", user.id, actor.id,
                 tokens_revoked=len(revoked), address=client_address())


def change_password(user: User, current_password: str, new_password: str) -> None:
    """A logged-in user sets a new password, proving the current one. Every browser session
    and every API token of the account ends; the caller logs the current session in again."""
    if not password_matches(user.password_hash, current_password or ""):
        message = _("当前密码不正确。")
        raise ValidationFailed(message, {"current_password": [message]})
    _end_sessions(user, password_hash=hash_password(new_password), failed_logins=0, locked_until=None)
    revoked = _delete_tokens(user)
    audit.append("account.password_changed", "user", user.id, user.id, tokens_revoked=len(revoked),
                 address=client_address())


def account_by_email(email: str) -> User:
    user = user_by_email(email)
    if user is None:
        raise NotFound(_("没有使用该邮箱的账户。"), {"email": [_("没有使用该邮箱的账户。")]})
    return user


def account(user_id: int) -> User:
    user = db.session.get(User, user_id) if valid_id(user_id) else None
    if user is None:
        raise NotFound(_("未找到该账户。"))
    return user


# -- API tokens --------------------------------------------------------------------------

def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens that still work, newest first (the tokens themselves are not kept)."""
    return list(db.session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.expires_at > clock.now())
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).scalars())


def revoke_token(user: User, token_id: int) -> None:
    """Revoke one of the user's own tokens; 404 for any other."""
    if not valid_id(token_id) or not _delete_tokens(user, ApiToken.id == token_id):
        raise NotFound(_("未找到该令牌，它可能已被注销或已过期。"))
    audit.append("account.token_revoked", "user", user.id, user.id, token_id=token_id,
                 address=client_address())


def revoke_tokens(user: User) -> int:
    """Revoke every token of the user; how many there were."""
    revoked = _delete_tokens(user)
    audit.append("account.tokens_revoked", "user", user.id, user.id, tokens_revoked=len(revoked),
                 address=client_address())
    return len(revoked)
