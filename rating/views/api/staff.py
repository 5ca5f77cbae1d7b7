"""Staff accounts (officials, administrators), a firm's users (its administrator), and one's
own profile (API.md, "Running the programme")."""
from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from forms.jsondata import flat_formdata, validated
from forms.staff import STAFF_ROLES, FirmUserInviteForm, ProfileForm, StaffEditForm, StaffInviteForm
from rating.errors import ValidationFailed
from rating.extensions import db
from rating.models.types import valid_id
from rating.platform import text
from rating.services.accounts import firm_users, staff
from rating.views.api import api_user, bp, int_arg, json_body, token_required


def staff_json(user) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "jurisdiction_code": user.jurisdiction_code, "active": user.active,
            "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None}


def firm_user_json(user) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "is_admin": user.is_firm_admin,
            "active": user.active}


def _booleans(body: dict, keys: tuple[str, ...]) -> dict:
    """The JSON booleans among `keys` that the body gives; 422 for any other type."""
    values, errors = {}, {}
    for key in keys:
        if key in body:
            if isinstance(body[key], bool):
                values[key] = body[key]
            else:
                errors[key] = [_("必须是 true 或 false。")]
    if errors:
        raise ValidationFailed(_("提交的数据有误，请检查标出的项目。"), errors)
    return values


def _partial(form_class, body: dict, keys: tuple[str, ...], current: dict) -> dict:
    """Validate the keys the body gives (the others as they are now); the given ones' values."""
    given = [key for key in keys if key in body]
    formdata = flat_formdata({**current, **{key: body[key] for key in given}}, keys)
    form = validated(form_class(formdata=formdata, meta={"csrf": False}))
    return {key: form[key].data for key in given}


@bp.get("/staff")
@token_required()
def list_staff():
    active = request.args.get("active")
    if active not in (None, "", "true", "false"):
        raise ValidationFailed(_("查询参数 active 不正确。"), {"active": [_("请填写 true 或 false。")]})
    page = int_arg("page", 1, 100000) or 1
    q, role = (request.args.get("q") or "")[:100], request.args.get("role") or None
    if text.problem(q):
        raise ValidationFailed(text.problem(q), {"q": [text.problem(q)]})
    if role is not None and role not in [r.value for r in STAFF_ROLES]:
        raise ValidationFailed(_("查询参数 role 不正确。"), {"role": [_("角色不正确。")]})
    items, total = staff.listing(api_user(), q or None, role,
                                 None if active in (None, "") else active == "true", page)
    return {"items": [staff_json(user) for user in items], "total": total, "page": page}


@bp.post("/staff")
@token_required()
def invite_staff():
    body = json_body()
    form = validated(StaffInviteForm(formdata=flat_formdata(body, ("email", "name", "role", "jurisdiction_code")),
                                     meta={"csrf": False}))
    user = staff.invite(api_user(), form.email.data, form.name.data, form.role.data,
                        form.jurisdiction_code.data or None)
    db.session.commit()
    return staff_json(user), 201


@bp.patch("/staff/<int:user_id>")
@token_required()
def update_staff(user_id: int):
    body = json_body()
    user = staff.member(api_user(), user_id)
    changes = _partial(StaffEditForm, body, ("name", "role", "jurisdiction_code"),
                       {"name": user.name, "role": user.role, "jurisdiction_code": user.jurisdiction_code})
    if "jurisdiction_code" in changes:
        changes["jurisdiction_code"] = changes["jurisdiction_code"] or None
    changes.update(_booleans(body, ("active",)))
    staff.update(api_user(), user, changes)
    db.session.commit()
    return staff_json(user)


@bp.get("/enterprise/users")
@token_required()
def list_firm_users():
    return [firm_user_json(user) for user in firm_users.colleagues(api_user())]


@bp.post("/enterprise/users")
@token_required()
def invite_firm_user():
    body = json_body()
    form = validated(FirmUserInviteForm(formdata=flat_formdata(body, ("email", "name")), meta={"csrf": False}))
    user = firm_users.invite(api_user(), form.email.data, form.name.data)
    db.session.commit()
    return firm_user_json(user), 201


@bp.patch("/enterprise/users/<int:user_id>")
@token_required()
def update_firm_user(user_id: int):
    values = _booleans(json_body(), ("is_admin", "active"))
    user = firm_users.update(api_user(), user_id if valid_id(user_id) else 0, values.get("is_admin"),
                             values.get("active"))
    db.session.commit()
    return firm_user_json(user)


def me_json(user) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "phone": user.phone, "role": user.role,
            "locale": user.locale or "zh_Hans_CN"}


@bp.patch("/me")
@token_required()
def update_me():
    user = api_user()
    body = json_body()
    changes = _partial(ProfileForm, body, ("name", "phone", "locale"),
                       {"name": user.name, "phone": user.phone or "", "locale": user.locale or "zh_Hans_CN"})
    firm_users.update_profile(user, changes)
    db.session.commit()
    return me_json(user)
