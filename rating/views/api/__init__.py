"""The JSON API under /api/v1 (API.md). Bearer tokens only; no cookies, so no CSRF."""
from __future__ import annotations

from collections.abc import Collection
from functools import wraps

from flask import Blueprint, current_app, g, request
from flask_babel import gettext as _

from rating.errors import Forbidden, Unauthorized, ValidationFailed
from rating.platform import text
from rating.services.accounts.signin import load_user_from_request
from rating.services.reference import all_levels

bp = Blueprint("api", __name__)


def request_json():
    """The request's JSON document, or None when there is none or it does not parse. Nesting
    deeper than the parser's recursion limit is input that does not parse, not a server fault.
    A document with a lone surrogate (`"\\ud800"` parses into one, which no page, database or
    file can encode) or an invisible format character (a bidi override) anywhere is refused
    here, before any form or use case sees it: 422 naming where."""
    try:
        document = request.get_json(silent=True)
    except RecursionError:
        return None
    where = text.hidden_in_document(document)
    if where is not None:
        message = str(text.HIDDEN_MESSAGE)
        raise ValidationFailed(message, {where or "body": [message]})
    return document


def json_body() -> dict:
    body = request_json()
    if body is None:
        raise ValidationFailed(_("请求体必须是有效的 JSON（Content-Type: application/json）。"))
    if not isinstance(body, dict):
        raise ValidationFailed(_("请求体必须是 JSON 对象。"))
    return body


def int_arg(name: str, low: int, high: int, allowed: Collection[int] | None = None,
            message: str | None = None) -> int | None:
    """The query parameter `name` as an integer in [low, high] (and in `allowed`, when given),
    None when absent; 422 otherwise, with `message` or the range as the field's error."""
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high or (allowed is not None and value not in allowed):
        raise ValidationFailed(_("查询参数 %(name)s 不正确。", name=name),
                               {name: [message or _("请输入 %(low)s 到 %(high)s 之间的整数。", low=low, high=high)]})
    return value


def level_arg(name: str = "level") -> int | None:
    """A star-level filter: one of the levels of the guide editions loaded (lists and totals
    span editions), None when absent; 422 otherwise."""
    levels = all_levels()
    return int_arg(name, min(levels, default=0), max(levels, default=-1), allowed=levels, message=_("星级不正确。"))


def token_required(*roles: str):
    """Require a valid bearer token, optionally one of `roles`."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not g.get("api_user"):
                raise Unauthorized(_("缺少或无效的访问令牌，请重新获取。"))
            if roles and g.api_user.role not in roles:
                raise Forbidden(_("您没有权限执行此操作。"))
            return view(*args, **kwargs)

        return wrapper

    return decorator


@bp.before_request
def authenticate_bearer():
    # current_user resolves through the request loader (bearer tokens); a session
    # cookie is never honoured here.
    g.api_user = load_user_from_request(request)
    if request.headers.get("Authorization") and g.api_user is None:
        raise Unauthorized(_("访问令牌无效或已过期，请重新获取。"))
    if g.api_user is not None:
        # The token's user is the request's user: Flask-Login would otherwise look the
        # token up again the first time anything reads current_user.
        current_app.login_manager._update_request_context_with_user(g.api_user)


def api_user():
    return g.api_user


from rating.views.api import (  # noqa: E402,F401
    accounts,
    applications,
    audit,
    batches,
    claims,
    conflicts,
    editions,
    officials,
    openapi,
    providers,
    publicity,
    ratings,
    reference,
    reviews,
    sessions,
    staff,
    totals,
)
