"""Tokens and firm self-registration."""
from __future__ import annotations

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from forms.accounts import EnterpriseRegistrationForm
from forms.fields import INVALID
from forms.jsondata import flatten_errors
from rating.errors import Unauthorized, ValidationFailed
from rating.extensions import db, limiter
from rating.models import ClaimStatus
from rating.permissions import claim_pending
from rating.services import reference
from rating.services.accounts import registration, signin
from rating.views.api import bp, json_body

REGISTRATION_KEYS = ("name", "uscc", "district_code", "industry", "scale", "contact_name",
                     "contact_phone", "email", "password")


@bp.post("/tokens")
@limiter.limit("120 per minute")
def create_token():
    body = json_body()
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        raise ValidationFailed(_("请提供邮箱和密码。"), {"email": [_("请输入邮箱。")]})
    # No known-device cookie here: to the failed-login pauses every caller is a new browser.
    try:
        user = signin.authenticate(email, password)
    except Unauthorized:
        db.session.commit()     # a refused login still counts against the account
        raise
    token, expires_at = signin.issue_token(user)
    db.session.commit()
    return {"token": token, "expires_at": expires_at.isoformat()}, 201


@bp.post("/enterprises")
@limiter.limit("30 per minute")
def register_enterprise():
    body = json_body()
    formdata = MultiDict()
    for key in REGISTRATION_KEYS:
        value = body.get(key)
        if value is not None:
            formdata.add(key, value if isinstance(value, str) else INVALID)
    form = EnterpriseRegistrationForm(
        formdata=formdata, meta={"csrf": False},
        district_choices=[(c.code, c.name) for c in reference.counties()],
    )
    if not form.validate():
        raise ValidationFailed(_("注册信息有误，请检查标出的项目。"), flatten_errors(form.errors))
    enterprise, user = registration.register_enterprise(form.data)
    db.session.commit()
    if claim_pending(user):
        # A firm known only from an imported list: its county confirms the claim first.
        return {"id": enterprise.id, "status": ClaimStatus.pending.value}, 202
    return {"id": enterprise.id, "name": enterprise.name, "uscc": enterprise.uscc,
            "district_code": enterprise.district_code}, 201
