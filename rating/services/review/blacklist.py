"""The blacklist: firms found faking materials, and the cloud providers that share the blame.

Blacklisted parties cannot apply (checked at creation and submission); their open
applications are flagged for reviewers. An entry is lifted, never deleted.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.exc import IntegrityError

from rating import clock
from rating.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import Application, BlacklistEntry, CloudService, Enterprise, Jurisdiction, User
from rating.models.types import valid_id
from rating.permissions import inside, is_official
from rating.platform import audit
from rating.services.filing.applications import OPEN
from rating.services.review import providers


def _require_official(user: User) -> None:
    if not is_official(user):
        raise Forbidden(_("只有主管部门人员可以管理黑名单。"))


def listed(enterprise_id: int | None = None, provider_name: str | None = None) -> bool:
    """Whether the firm or the provider has an active entry (in the caller's transaction)."""
    party = (BlacklistEntry.enterprise_id == enterprise_id if enterprise_id is not None
             else BlacklistEntry.provider_name.in_(providers.names_of(provider_name or "")))
    return db.session.execute(select(BlacklistEntry.id).where(party, BlacklistEntry.lifted_at.is_(None))
                              ).first() is not None


def add(user: User, reason: str, enterprise_id: int | None = None, provider_name: str | None = None
        ) -> tuple[BlacklistEntry, list[int]]:
    """Blacklist one party; returns the entry and the open applications it now flags."""
    _require_official(user)
    provider_name = providers.canonical_name(provider_name)   # an alias blacklists the provider
    reason = (reason or "").strip()
    if (enterprise_id is None) == (provider_name is None):
        raise ValidationFailed(_("请指定一家企业或一个云服务商。"),
                               {"enterprise_id": [_("企业与云服务商只能填写一项。")]})
    if not reason:
        raise ValidationFailed(_("请填写列入黑名单的原因。"), {"reason": [_("请填写原因。")]})
    if enterprise_id is not None:
        enterprise = db.session.get(Enterprise, enterprise_id)
        if enterprise is None or (user.jurisdiction is not None and not user.jurisdiction.contains(enterprise.district)):
            raise NotFound(_("未找到该企业。"))
    if listed(enterprise_id, provider_name):
        raise Conflict(_("该企业或云服务商已在黑名单中。"))
    entry = BlacklistEntry(enterprise_id=enterprise_id, provider_name=provider_name, reason=reason,
                           created_by_id=user.id)
    db.session.add(entry)
    try:
        db.session.flush()
    except IntegrityError:
        # A concurrent addition of the same party won; the caller's transaction is spoilt.
        raise Conflict(_("该企业或云服务商已在黑名单中。"))
    flagged = flagged_applications(entry)
    audit.append("blacklist.add", "blacklist_entry", entry.id, user.id, enterprise_id=enterprise_id,
                 provider_name=provider_name, reason=reason, flagged_applications=flagged)
    return entry, flagged


def firms_matching(user: User, text: str, limit: int = 20) -> list[Enterprise]:
    """The firms in the user's scope a blacklist form names: by a whole credit code, or by a
    part of the name (at most `limit`, by name)."""
    _require_official(user)
    text = (text or "").strip()
    if not text:
        return []
    query = (select(Enterprise).join(Jurisdiction, Jurisdiction.code == Enterprise.district_code)
             .order_by(Enterprise.name).limit(limit))
    if len(text) == 18 and text.isalnum():
        query = query.where(Enterprise.uscc == text.upper())
    else:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Enterprise.name.ilike(pattern, escape="\\"))
    if user.jurisdiction is not None:
        query = query.where(inside(user.jurisdiction))
    return list(db.session.execute(query).scalars())


def flagged_applications(entry: BlacklistEntry) -> list[int]:
    query = select(Application.id).where(Application.status.in_(OPEN)).order_by(Application.id)
    if entry.enterprise_id is not None:
        query = query.where(Application.enterprise_id == entry.enterprise_id)
    else:
        query = query.where(Application.id.in_(
            select(CloudService.application_id).where(
                CloudService.provider.in_(providers.names_of(entry.provider_name)))))
    return list(db.session.execute(query).scalars())


def lift(user: User, entry_id: int, reason: str) -> BlacklistEntry:
    _require_official(user)
    entry = db.session.get(BlacklistEntry, entry_id) if valid_id(entry_id) else None
    if entry is None or (entry.enterprise is not None and user.jurisdiction is not None
                         and not user.jurisdiction.contains(entry.enterprise.district)):
        raise NotFound(_("未找到该黑名单记录。"))
    if entry.lifted_at is not None:
        raise Conflict(_("该记录已移出黑名单。"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("请填写移出黑名单的原因。"), {"reason": [_("请填写原因。")]})
    entry.lifted_at, entry.lifted_by_id, entry.lift_reason = clock.now(), user.id, reason
    audit.append("blacklist.lift", "blacklist_entry", entry.id, user.id, reason=reason)
    return entry


def active_entries(user: User) -> list[BlacklistEntry]:
    """Active entries: every provider, and the firms inside the user's jurisdiction."""
    query = (select(BlacklistEntry)
             .outerjoin(Enterprise, Enterprise.id == BlacklistEntry.enterprise_id)
             .outerjoin(Jurisdiction, Jurisdiction.code == Enterprise.district_code)
             .where(BlacklistEntry.lifted_at.is_(None))
             .options(selectinload(BlacklistEntry.enterprise))
             .order_by(BlacklistEntry.id))
    if user.jurisdiction is not None:
        query = query.where(or_(BlacklistEntry.enterprise_id.is_(None), inside(user.jurisdiction)))
    return list(db.session.execute(query).scalars())


def alerts(application: Application) -> list[dict]:
    """What reviewers must see on an open application: its firm or a provider is blacklisted."""
    found = []
    names = set().union(*(providers.names_of(s.provider) for s in application.services))
    rows = db.session.execute(
        select(BlacklistEntry).where(
            BlacklistEntry.lifted_at.is_(None),
            (BlacklistEntry.enterprise_id == application.enterprise_id)
            | BlacklistEntry.provider_name.in_(names or {""}),
        )
    ).scalars().all()
    for entry in rows:
        if entry.enterprise_id is not None:
            found.append({"code": "blacklisted_enterprise",
                          "message": _("企业已被列入黑名单：%(reason)s", reason=entry.reason)})
        else:
            found.append({"code": "blacklisted_provider",
                          "message": _("云服务商“%(name)s”已被列入黑名单：%(reason)s", name=entry.provider_name,
                                       reason=entry.reason)})
    return found
