"""Browsing the audit log: officials the entries about objects in their scope, admins all.

Every filter has its index (actor, action, object type and object, time), each ending in the
seq, so a page newest first reads that index backwards and stops: no scan of the log, a
million entries or not. The count beside a filtered list stops at TOTAL_CAP; pages reach as
deep (PER_PAGE × MAX_PAGE entries), narrower filters reach the rest.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Iterator

from flask_babel import gettext as _
from sqlalchemy import String, cast, func, literal, select, tuple_, union_all
from sqlalchemy.sql.elements import ColumnElement

from rating import clock
from rating.errors import Forbidden, ValidationFailed
from rating.extensions import db
from rating.models import (
    Application,
    AuditEntry,
    AuditHead,
    BlacklistEntry,
    Enterprise,
    Jurisdiction,
    JurisdictionLevel,
    PublicityNotice,
    Rating,
    Role,
    User,
)
from rating.permissions import inside, is_official, staff_scope
from rating.platform import audit
from rating.services.reporting.exports import neutralise_csv

PER_PAGE = 50
MAX_PAGE = 200
TOTAL_CAP = PER_PAGE * MAX_PAGE
EXPORT_CAP = 100_000


@dataclass(frozen=True)
class Filters:
    actor_id: int | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def any(self) -> bool:
        return any(v is not None for v in self.__dict__.values())


@dataclass(frozen=True)
class Page:
    items: list[dict]
    total: int
    page: int
    verified_through: int
    newest: int
    broken_at: int | None


def _moment(raw: str, name: str, end: bool) -> datetime:
    """A date (the whole local day) or an ISO date-time; naive times are local."""
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(), clock.zone())
        moment = datetime.fromisoformat(raw)
    except ValueError:
        message = _("请输入日期，例如 2026-01-31。")
        raise ValidationFailed(_("查询参数 %(name)s 不正确。", name=name), {name: [message]})
    return moment if moment.tzinfo else moment.replace(tzinfo=clock.zone())


def parse_filters(args) -> Filters:
    """The filters from query parameters (blank ones ignored); 422 naming a bad one."""
    values = {key: (args.get(key) or "").strip() or None
              for key in ("actor", "action", "object_type", "object_id", "since", "until")}
    too_long = {key: [_("不能超过 %(n)s 个字。", n=limit)] for key, limit in
                (("action", 40), ("object_type", 30), ("object_id", 40), ("actor", 254))
                if values[key] and len(values[key]) > limit}
    if too_long:
        raise ValidationFailed(_("提交的数据有误，请检查标出的项目。"), too_long)
    for key, value in values.items():
        if value and "\x00" in value:      # PostgreSQL text cannot hold it: no entry matches
            message = _("查询参数 %(name)s 不正确。", name=key)
            raise ValidationFailed(message, {key: [message]})
    actor_id = None
    if values["actor"]:
        if values["actor"].isdigit() and len(values["actor"]) < 12:
            actor_id = int(values["actor"])
        else:   # an email: unknown ones match nothing
            actor_id = db.session.execute(
                select(User.id).where(func.lower(User.email) == values["actor"].lower())).scalar() or 0
    since = _moment(values["since"], "since", end=False) if values["since"] else None
    until = _moment(values["until"], "until", end=True) if values["until"] else None
    if since and until and until <= since:
        message = _("结束时间不能早于开始时间。")
        raise ValidationFailed(message, {"until": [message]})
    return Filters(actor_id, values["action"], values["object_type"], values["object_id"], since, until)


def _ids_inside(kind: str, id_column, district_column, scope: Jurisdiction, *joins) -> Any:
    query = select(literal(kind, String).label("object_type"), cast(id_column, String).label("object_id"))
    for target, on in joins:
        query = query.join(target, on)
    return query.join(Jurisdiction, Jurisdiction.code == district_column).where(inside(scope))


def _scope_condition(scope: Jurisdiction) -> ColumnElement[bool]:
    """Entries about an object inside `scope`: a firm, its applications, ratings and blacklist
    entries, a publicity notice of the division, a user of a firm or a staff member there. One
    (object_type, object_id) IN (…) over them all, which the planner can answer through the
    (object_type, object_id) index when the scope's objects are few."""
    objects = union_all(
        _ids_inside("application", Application.id, Enterprise.district_code, scope,
                    (Enterprise, Enterprise.id == Application.enterprise_id)),
        _ids_inside("enterprise", Enterprise.id, Enterprise.district_code, scope),
        _ids_inside("rating", Rating.id, Rating.certified_district_code, scope),
        _ids_inside("blacklist_entry", BlacklistEntry.id, Enterprise.district_code, scope,
                    (Enterprise, Enterprise.id == BlacklistEntry.enterprise_id)),
        _ids_inside("publicity_notice", PublicityNotice.id, PublicityNotice.jurisdiction_code, scope),
        _ids_inside("user", User.id, Enterprise.district_code, scope,
                    (Enterprise, Enterprise.id == User.enterprise_id)),
        _ids_inside("user", User.id, User.jurisdiction_code, scope),
    )
    return tuple_(AuditEntry.object_type, AuditEntry.object_id).in_(select(objects.subquery()))


def _visible(user: User) -> ColumnElement[bool] | None:
    """None: every entry (admins, province officials); else the scope condition."""
    if not is_official(user):
        raise Forbidden(_("只有主管部门人员可以查看审计日志。"))
    scope = staff_scope(user)
    if user.role == Role.admin or scope.level == JurisdictionLevel.province:
        return None
    return _scope_condition(scope)


def _conditions(user: User, filters: Filters) -> list[ColumnElement[bool]]:
    e, f = AuditEntry, filters
    found = [condition() for condition, value in (
        (lambda: e.actor_id == f.actor_id, f.actor_id), (lambda: e.action == f.action, f.action),
        (lambda: e.object_type == f.object_type, f.object_type),
        (lambda: e.object_id == f.object_id, f.object_id),
        (lambda: e.at >= f.since, f.since), (lambda: e.at < f.until, f.until)) if value is not None]
    scope = _visible(user)
    if scope is not None:
        found.append(scope)
    return found


# Columns, not entities: an export of many pages fills no identity map.
_COLUMNS = (AuditEntry.id, AuditEntry.at, AuditEntry.action, AuditEntry.object_type, AuditEntry.object_id,
            AuditEntry.payload, User.id.label("actor_id"), User.name.label("actor_name"),
            User.email.label("actor_email"))


def _select(conditions) -> Any:
    return (select(*_COLUMNS).outerjoin(User, User.id == AuditEntry.actor_id).where(*conditions)
            .order_by(AuditEntry.id.desc()))


def item_json(row) -> dict:
    return {"seq": row.id, "at": clock.local(row.at).isoformat(),
            "actor": None if row.actor_id is None else {"id": row.actor_id, "name": row.actor_name,
                                                        "email": row.actor_email},
            "action": row.action, "object_type": row.object_type, "object_id": row.object_id,
            "data": json.loads(row.payload).get("data", {})}


def browse(user: User, filters: Filters, page: int = 1) -> Page:
    """One page of entries newest first, the (capped) count and how far the chain verifies."""
    page = max(1, min(page, MAX_PAGE))
    conditions = _conditions(user, filters)
    rows = db.session.execute(_select(conditions).offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    head = db.session.get(AuditHead, 1)
    newest = head.seq if head is not None else 0
    if conditions:
        capped = select(AuditEntry.id).where(*conditions).limit(TOTAL_CAP).subquery()
        total = db.session.execute(select(func.count()).select_from(capped)).scalar_one()
    else:
        total = newest
    verified, broken = audit.verified_through()
    return Page([item_json(row) for row in rows], total, page, verified, newest,
                broken.entry_id if broken else None)


def entry(user: User, seq: int) -> dict | None:
    """One entry the user may see, or None."""
    row = db.session.execute(_select([AuditEntry.id == seq, *_conditions(user, Filters())])).first()
    return None if row is None else item_json(row)


def export_rows(user: User, filters: Filters) -> Iterator[dict]:
    """Every entry of the filtered list newest first (at most EXPORT_CAP), read by keyset."""
    conditions, last, sent = _conditions(user, filters), None, 0
    while sent < EXPORT_CAP:
        query = _select(conditions).limit(min(1000, EXPORT_CAP - sent))
        if last is not None:
            query = query.where(AuditEntry.id < last)
        rows = db.session.execute(query).all()
        if not rows:
            return
        yield from map(item_json, rows)
        sent += len(rows)
        last = rows[-1].id


def csv_chunks(user: User, filters: Filters) -> Iterator[str]:
    """The filtered list as CSV text chunks (BOM first), every cell formula-neutralised; the
    caller's permission is checked now, before anything is streamed."""
    _visible(user)
    return _csv(export_rows(user, filters))


def _csv(items: Iterator[dict]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([_("序号"), _("时间"), _("操作人"), _("操作"), _("对象类型"), _("对象编号"), _("内容")])
    for count, item in enumerate(items, start=1):
        actor = item["actor"]
        writer.writerow([neutralise_csv(value) for value in (
            item["seq"], item["at"], f"{actor['name']} <{actor['email']}>" if actor else "", item["action"],
            item["object_type"], item["object_id"], json.dumps(item["data"], ensure_ascii=False, sort_keys=True))])
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
