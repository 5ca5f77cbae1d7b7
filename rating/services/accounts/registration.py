"""Registration: a firm and its first user (or a claim of a firm known from an imported
list), and staff accounts."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from rating.errors import Conflict, ValidationFailed
from rating.extensions import db
from rating.models import Enterprise, Jurisdiction, JurisdictionLevel, Role, User
from rating.platform import jobs
from rating.services.accounts import claims
from rating.services.accounts.signin import hash_password, normalize_email


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
        conflicts["uscc"] = [_("该企业已注册。如需账户，请联系本企业的管理员在“企业用户”页面向您发送邀请。")]
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
            is_firm_admin=True,     # the first user of a firm is its administrator
        )
        db.session.add_all([enterprise, user])
    try:
        db.session.flush()
    except IntegrityError:
        # Lost a race with a concurrent registration of the same code or email.
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
    if role == Role.reviewer:
        # Work that waited for an eligible reviewer here is assigned now.
        jobs.later(jobs.ROUTE_WAITING, jurisdiction_code)
    db.session.flush()
    return user
