"""Batches run by the province: open one, edit it, extend or close it early, and a city's
own filing deadline inside it (API.md, "Running the programme"). Each change is an audit
entry; the edition, cut-off and investment window freeze once a firm has filed."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from rating import clock
from rating.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import Application, Batch, BatchCityDeadline, GuideEdition, Jurisdiction, User
from rating.permissions import can_manage_batches, can_set_city_deadline, staff_scope
from rating.platform import audit
from rating.rules.batches import FROZEN_ONCE_FILED, REVIEW_STAGES, BatchTerms, city_deadline_problem, problems
from rating.services.reference import get_batch, get_edition

TERMS = ("name", "guide_edition", "opens_at", "closes_at", "usage_cutoff", "investment_from",
         "investment_to", "review_days", "levels")


def counts_by_state() -> dict[int, dict[str, int]]:
    """{batch id: {application status: how many}} over every batch."""
    counts: dict[int, dict[str, int]] = {}
    rows = db.session.execute(select(Application.batch_id, Application.status, func.count())
                              .group_by(Application.batch_id, Application.status))
    for batch_id, status, count in rows:
        counts.setdefault(batch_id, {})[getattr(status, "value", status)] = count
    return counts


def editions() -> list[tuple[str, str]]:
    """(code, title) of every loaded guide edition, by code."""
    return list(db.session.execute(select(GuideEdition.code, GuideEdition.title).order_by(GuideEdition.code)).tuples())


def application_count(batch_id: int) -> int:
    return db.session.execute(select(func.count()).select_from(Application)
                              .where(Application.batch_id == batch_id)).scalar_one()


def terms_of(batch: Batch) -> dict[str, Any]:
    """The batch's terms as the API names them (what a PATCH merges into, the copy form shows)."""
    return {"name": batch.name, "guide_edition": batch.edition_code, "opens_at": batch.opens_at,
            "closes_at": batch.closes_at, "usage_cutoff": batch.usage_cutoff,
            "investment_from": batch.investment_from, "investment_to": batch.investment_to,
            "review_days": {stage: batch.review_days(stage) for stage in REVIEW_STAGES},
            "levels": offered_levels(batch)}


def offered_levels(batch: Batch) -> list[int]:
    return sorted(batch.levels) if batch.levels is not None else sorted(get_edition(batch.edition_code).levels)


def _checked(terms: dict[str, Any]) -> tuple[int, ...]:
    """Raise 422 naming each inconsistent field; the levels offered."""
    exists = db.session.execute(select(GuideEdition.code).where(GuideEdition.code == terms["guide_edition"])
                                ).first() if "\x00" not in terms["guide_edition"] else None
    if not exists:
        raise ValidationFailed(_("提交的数据有误，请检查标出的项目。"),
                               {"guide_edition": [_("没有这个指南版本。")]})
    edition_levels = get_edition(terms["guide_edition"]).levels
    levels = tuple(sorted(set(terms["levels"]))) if terms.get("levels") is not None else tuple(sorted(edition_levels))
    found = problems(BatchTerms(terms["opens_at"], terms["closes_at"], terms["usage_cutoff"],
                                terms["investment_from"], terms["investment_to"], terms["review_days"], levels),
                     edition_levels)
    if found:
        raise ValidationFailed(_("提交的数据有误，请检查标出的项目。"),
                               {key: [m.render(_) for m in messages] for key, messages in found.items()})
    return levels


def _apply(batch: Batch, terms: dict[str, Any], levels: tuple[int, ...]) -> None:
    batch.name = terms["name"]
    batch.edition_code = terms["guide_edition"]
    batch.opens_at, batch.closes_at = terms["opens_at"], terms["closes_at"]
    batch.usage_cutoff = terms["usage_cutoff"]
    batch.investment_from, batch.investment_to = terms["investment_from"], terms["investment_to"]
    for stage in REVIEW_STAGES:
        setattr(batch, f"{stage}_review_days", terms["review_days"][stage])
    batch.levels = list(levels)


def _audited(terms: dict[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, (date, datetime)) else value
            for key, value in terms.items()}


def create(actor: User, terms: dict[str, Any]) -> Batch:
    """Open a batch in the actor's province, numbered after the others of its year."""
    if not can_manage_batches(actor):
        raise Forbidden(_("只有省级主管部门和系统管理员可以管理申报批次。"))
    levels = _checked(terms)
    province = staff_scope(actor).province_code
    year = clock.local(terms["opens_at"]).year
    number = (db.session.execute(select(func.max(Batch.number)).where(
        Batch.province_code == province, Batch.year == year)).scalar() or 0) + 1
    batch = Batch(province_code=province, year=year, number=number)
    _apply(batch, terms, levels)
    db.session.add(batch)
    db.session.flush()
    audit.append("batch.created", "batch", batch.id, actor.id, **_audited(terms_of(batch)))
    return batch


def update(actor: User, batch_id: int, changes: dict[str, Any]) -> Batch:
    """Change the given terms. The edition, cut-off and investment window answer 409 once the
    batch has an application; the closing time moves at any time (extended or closed early)."""
    if not can_manage_batches(actor):
        raise Forbidden(_("只有省级主管部门和系统管理员可以管理申报批次。"))
    batch = get_batch(batch_id)
    before = terms_of(batch)
    merged = {**before, **changes}
    if "review_days" in changes:
        merged["review_days"] = {**before["review_days"], **changes["review_days"]}
    frozen = [key for key in FROZEN_ONCE_FILED if key in changes and changes[key] != before[key]]
    if frozen and application_count(batch.id):
        raise Conflict(_("本批次已有企业申报，指南版本、使用情况截止日期和投入期间不能再修改。"),
                       {key: [_("已有申报，不能修改。")] for key in frozen})
    levels = _checked(merged)
    _apply(batch, merged, levels)
    db.session.flush()
    after = terms_of(batch)
    changed = {key: {"before": _audited({key: before[key]})[key], "after": _audited({key: after[key]})[key]}
               for key in after if after[key] != before[key]}
    if changed:
        audit.append("batch.updated", "batch", batch.id, actor.id, changes=changed)
    if after["closes_at"] != before["closes_at"]:
        action = "batch.extended" if after["closes_at"] > before["closes_at"] else "batch.closed_early"
        audit.append(action, "batch", batch.id, actor.id, before=before["closes_at"].isoformat(),
                     after=after["closes_at"].isoformat())
    return batch


def city_deadlines(batch_id: int | None = None) -> dict[int, dict[str, datetime]]:
    """{batch id: {city code: its deadline}}, of one batch or every batch."""
    query = select(BatchCityDeadline.batch_id, BatchCityDeadline.city_code, BatchCityDeadline.closes_at)
    if batch_id is not None:
        query = query.where(BatchCityDeadline.batch_id == batch_id)
    found: dict[int, dict[str, datetime]] = {}
    for row_batch, city, closes in db.session.execute(query):
        found.setdefault(row_batch, {})[city] = closes
    return found


def set_city_deadline(actor: User, batch_id: int, city_code: str, closes_at: datetime) -> BatchCityDeadline:
    """The city's own deadline, inside the batch's window: its firms may submit until it."""
    city = db.session.get(Jurisdiction, city_code) if city_code.isdigit() and len(city_code) == 6 else None
    if city is None:
        raise NotFound(_("未找到该行政区划。"))
    if not can_set_city_deadline(actor, city):
        raise Forbidden(_("只有本市主管部门可以设置本市的截止时间。"))
    batch = get_batch(batch_id)
    problem = city_deadline_problem(batch.opens_at, batch.closes_at, closes_at)
    if problem is not None:
        raise ValidationFailed(problem.render(_), {"closes_at": [problem.render(_)]})
    record = db.session.get(BatchCityDeadline, (batch.id, city.code))
    before = record.closes_at.isoformat() if record else None
    if record is None:
        record = BatchCityDeadline(batch_id=batch.id, city_code=city.code)
        db.session.add(record)
    record.closes_at, record.set_by, record.set_at = closes_at, actor.id, clock.now()
    db.session.flush()
    audit.append("batch.city_deadline", "batch", batch.id, actor.id, city_code=city.code, before=before,
                 after=closes_at.isoformat())
    return record


def city_deadline_of(batch_id: int, district_code: str) -> datetime | None:
    """The deadline the city of `district_code` set in the batch, if it set one."""
    return db.session.execute(
        select(BatchCityDeadline.closes_at)
        .join(Jurisdiction, Jurisdiction.city_code == BatchCityDeadline.city_code)
        .where(BatchCityDeadline.batch_id == batch_id, Jurisdiction.code == district_code)
    ).scalar()
