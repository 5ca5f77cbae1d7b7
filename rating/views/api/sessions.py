"""One's own API tokens and password; an administrator signing an account out everywhere."""
from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from forms.accounts import PasswordChangeForm
from forms.fields import INVALID
from forms.jsondata import flatten_errors
from rating.errors import ValidationFailed
from rating.extensions import db, limiter
from rating.models import Role
from rating.services.accounts import sessions, signin
from rating.views.api import api_user, bp, json_body, token_required


@bp.get("/tokens")
@token_required()
def list_tokens():
    current = signin.token_of_request(request)
    return [{"id": t.id, "created_at": t.created_at.isoformat(), "expires_at": t.expires_at.isoformat(),
             "current": current is not None and t.id == current.id}
            for t in sessions.tokens_of(api_user())]


@bp.delete("/tokens/current")
@token_required()
def revoke_current_token():
    current = signin.token_of_request(request)
    sessions.revoke_token(api_user(), current.id)
    db.session.commit()
    return "", 204


@bp.delete("/tokens/<int:token_id>")
@token_required()
def revoke_token(token_id: int):
    sessions.revoke_token(api_user(), token_id)
    db.session.commit()
    return "", 204


@bp.post("/me/password")
@limiter.limit("20 per minute")
@token_required()
def change_password():
    body = json_body()
    formdata = MultiDict()
    for key in ("current_password", "new_password"):
        value = body.get(key)
        if value is not None:
            formdata.add(key, value if isinstance(value, str) else INVALID)
    form = PasswordChangeForm(formdata=formdata, meta={"csrf": False})
    if not form.validate():
        raise ValidationFailed(_("密码修改信息有误，请检查标出的项目。"), flatten_errors(form.errors))
    sessions.change_password(api_user(), form.current_password.data, form.new_password.data)
    db.session.commit()
    return "", 204


@bp.post("/users/<int:user_id>/sign-out")
@token_required(Role.admin)
def sign_out_user(user_id: int):
    sessions.sign_out_everywhere(api_user(), sessions.account(user_id))
    db.session.commit()
    return "", 204
