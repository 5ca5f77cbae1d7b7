"""The officials' list of cloud service providers, each known by one name and its aliases
(阿里云 and 阿里云计算有限公司 are one provider). The blacklist names providers from it and
matches a firm's declared services by any of a provider's names."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from rating.errors import Forbidden, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import BlacklistEntry, Provider, ProviderAlias, User
from rating.models.types import valid_id
from rating.permissions import is_official
from rating.platform import audit

LIMIT = 100


def find(name: str | None) -> Provider | None:
    """The provider known by this name or alias, or None."""
    name = (name or "").strip()
    if not name or "\x00" in name:     # no name holds a NUL (PostgreSQL text cannot)
        return None
    return db.session.execute(
        select(Provider).outerjoin(ProviderAlias, ProviderAlias.provider_id == Provider.id)
        .where(or_(Provider.name == name, ProviderAlias.alias == name)).limit(1)).scalar()


def canonical_name(name: str | None) -> str | None:
    """The list's name for a provider known by `name`; an unknown name stays as typed."""
    provider = find(name)
    return provider.name if provider is not None else ((name or "").strip() or None)


def names_of(name: str) -> set[str]:
    """Every name a provider goes by (the one given if it is not on the list)."""
    provider = find(name)
    if provider is None:
        return {name.strip()}
    return {provider.name, *(a.alias for a in provider.aliases)}


def search(q: str | None = None) -> list[dict]:
    """Providers whose name or an alias contains `q` (all when blank), by name, with whether
    any of their names has an active blacklist entry."""
    query = select(Provider).options(selectinload(Provider.aliases)).order_by(Provider.name).limit(LIMIT)
    q = (q or "").strip()
    if "\x00" in q:
        return []
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Provider.name.ilike(pattern, escape="\\"), Provider.id.in_(
            select(ProviderAlias.provider_id).where(ProviderAlias.alias.ilike(pattern, escape="\\")))))
    providers = db.session.execute(query).scalars().all()
    listed = set(db.session.execute(select(BlacklistEntry.provider_name).where(
        BlacklistEntry.lifted_at.is_(None), BlacklistEntry.provider_name.is_not(None))).scalars())
    return [{"id": p.id, "name": p.name, "aliases": [a.alias for a in p.aliases],
             "blacklisted": bool(listed & {p.name, *(a.alias for a in p.aliases)})} for p in providers]


def save(user: User, name: str, aliases: list[str], provider_id: int | None = None) -> Provider:
    """Add a provider, or rename one and set its aliases; no name may name two providers."""
    if not is_official(user):
        raise Forbidden(_("只有主管部门人员可以维护云服务商名录。"))
    provider = None
    if provider_id is not None:
        provider = db.session.get(Provider, provider_id) if valid_id(provider_id) else None
        if provider is None:
            raise NotFound(_("未找到该云服务商。"))
    name = (name or "").strip()
    wanted = list(dict.fromkeys(a.strip() for a in aliases if a and a.strip() and a.strip() != name))
    errors = {}
    if not name:
        errors["name"] = [_("请填写云服务商名称。")]
    elif len(name) > 200 or any(len(a) > 200 for a in wanted):
        errors["name" if len(name) > 200 else "aliases"] = [_("不能超过 %(n)s 个字。", n=200)]
    for field, value in [("name", name), *(("aliases", a) for a in wanted)]:
        other = find(value)
        if other is not None and other is not provider and field not in errors:
            errors[field] = [_("“%(name)s”已是云服务商“%(other)s”的名称或别名。", name=value, other=other.name)]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors)
    before = None if provider is None else {"name": provider.name, "aliases": [a.alias for a in provider.aliases]}
    if provider is None:
        provider = Provider(name=name)
        db.session.add(provider)
    provider.name = name
    kept = {a.alias: a for a in provider.aliases}
    provider.aliases = [kept.get(a) or ProviderAlias(alias=a) for a in wanted]
    db.session.flush()
    audit.append("provider.update" if before else "provider.create", "provider", provider.id, user.id,
                 name=name, aliases=wanted, before=before)
    return provider
