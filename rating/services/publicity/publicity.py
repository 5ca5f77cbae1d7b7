"""Publicity (公示): notices of approved applications, objections, and closing into ratings.

The jurisdiction that has the final say for a level publishes it (Jiangsu: the city for
3★ and 4★, the province for 5★; from the guide edition). Anyone may object while a
notice runs; an official dismisses or upholds each objection (upheld: the application is
returned to the final stage or rejected). Closing the notice from its last day on makes
every entry without an open objection `rated` and grants its rating; entries with an
open objection are `held` until the objection is resolved.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm import selectinload

from rating import clock
from rating.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import (
    Application,
    ApplicationStatus,
    Batch,
    Disbursement,
    Enterprise,
    EntryOutcome,
    Jurisdiction,
    JurisdictionLevel,
    NoticeStatus,
    Objection,
    ObjectionStatus,
    PublicityEntry,
    PublicityNotice,
    Rating,
    RatingStatus,
    User,
)
from rating.models.types import valid_id
from rating.permissions import (acts_everywhere, can_manage_notice, can_view_application, inside, is_official,
                                scope_applications)
from rating.rules import stages
from rating.platform import audit
from rating.services.filing import history
from rating.services.ratings import certificates, ratings
from rating.services.reporting import aggregates
from rating.services.reference import edition_of_batch


def suggested_period(start: date, working_days: int = 5) -> date:
    """The last day of a period of `working_days` working days from `start` (weekends skipped)."""
    day, left = start, working_days
    while True:
        if day.weekday() < 5:
            left -= 1
            if left == 0:
                return day
        day += timedelta(days=1)


def _publisher_scope(user: User):
    if acts_everywhere(user):
        return None
    if not is_official(user) or user.jurisdiction is None:
        raise Forbidden(_("只有主管部门人员可以发布公示。"))
    if user.jurisdiction.level == JurisdictionLevel.county:
        raise Forbidden(_("公示由设区市或省主管部门发布。"))
    return user.jurisdiction


def final_owner(application: Application) -> str:
    """The division code of the jurisdiction that has the final say on this application."""
    final = edition_of_batch(application.batch.edition_code).levels[application.target_level].final_stage
    district = application.enterprise.district
    return stages.owner_code(final, county=district.code, city=district.city_code,
                             province=district.province_code)


def create_notice(user: User, title: str, application_ids: list[int], starts_on: date, ends_on: date
                  ) -> PublicityNotice:
    scope = _publisher_scope(user)
    today = clock.today()
    if starts_on < today:
        raise ValidationFailed(_("公示开始日期不能早于今天。"), {"starts_on": [_("不能早于今天。")]})
    if ends_on < starts_on:
        raise ValidationFailed(_("结束日期不能早于开始日期。"), {"ends_on": [_("不能早于开始日期。")]})
    applications = db.session.execute(
        select(Application).where(Application.id.in_(application_ids)).order_by(Application.id)
    ).scalars().all()
    found = {a.id: a for a in applications if can_view_application(user, a)}
    missing = [i for i in application_ids if i not in found]
    if missing:
        raise NotFound(_("未找到申报：%(ids)s。", ids="、".join(f"#{i}" for i in missing)),
                       {"application_ids": [_("不存在或不在您的管辖范围内。")]})
    owners = {final_owner(a) for a in applications}
    if len(owners) != 1:
        raise ValidationFailed(_("一份公示只能包含同一认定机关负责的申报。"),
                               {"application_ids": [_("认定机关不一致。")]})
    owner = owners.pop()
    if scope is not None and owner != scope.code:
        level = edition_of_batch(applications[0].batch.edition_code).levels[applications[0].target_level].final_stage
        raise Forbidden(_("这些申报由%(level)s主管部门公示。",
                          level=JurisdictionLevel(stages.owning_level(level)).label))
    not_approved = [a for a in applications if a.status != ApplicationStatus.approved]
    if not_approved:
        raise Conflict(
            _("只有审核通过的申报可以公示：%(ids)s 当前不是“审核通过”。",
              ids="、".join(f"#{a.id}" for a in not_approved)),
            {"application_ids": [_("状态不是审核通过。")]},
        )
    notice = PublicityNotice(title=title.strip(), jurisdiction_code=owner, starts_on=starts_on, ends_on=ends_on,
                             status=NoticeStatus.open, created_by_id=user.id)
    db.session.add(notice)
    db.session.flush()
    for application in applications:
        _move(application, ApplicationStatus.approved, ApplicationStatus.publicity, user, "publicity",
              _("列入公示：%(title)s", title=notice.title))
        db.session.add(PublicityEntry(notice_id=notice.id, application_id=application.id,
                                      level=application.target_level, outcome=EntryOutcome.listed))
    audit.append("publicity.create", "publicity_notice", notice.id, user.id, title=notice.title,
                 jurisdiction=owner, starts_on=starts_on.isoformat(), ends_on=ends_on.isoformat(),
                 application_ids=[a.id for a in applications])
    _flush()
    return notice


def _move(application: Application, from_status: str, to_status: str, actor: User | None, action: str,
          comment: str | None, stage: str | None = None) -> None:
    """A guarded status change (the application must still be where we found it), recorded twice."""
    moved = db.session.execute(
        update(Application)
        .where(Application.id == application.id, Application.status == from_status,
               Application.version == application.version)
        .values(status=to_status, stage=stage, version=application.version + 1, updated_at=clock.now(),
                resume_stage=None)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise Conflict(_("申报 #%(id)s 已被他人处理，请刷新后重试。", id=application.id))
    history.record_change(application.id, actor.id if actor is not None else None, action, from_status, to_status,
                          application.stage, stage, comment)


def _flush() -> None:
    """Write the notice now: an application on another open notice (a unique key) is a 409."""
    try:
        db.session.flush()
    except (IntegrityError, StaleDataError):
        raise Conflict(_("该申报已在另一份公示中，或已被他人处理，请刷新后重试。"))


# A notice's pages and JSON show every entry's firm and county: loaded with the notice.
_NOTICE_LOADING = (selectinload(PublicityNotice.entries).selectinload(PublicityEntry.application)
                   .selectinload(Application.enterprise).selectinload(Enterprise.district),
                   selectinload(PublicityNotice.entries).selectinload(PublicityEntry.objections))


def get_notice(notice_id: int) -> PublicityNotice:
    notice = (db.session.get(PublicityNotice, notice_id, options=_NOTICE_LOADING)
              if valid_id(notice_id) else None)
    if notice is None:
        raise NotFound(_("未找到该公示。"))
    return notice


def recent_notices(limit: int = 100) -> list[PublicityNotice]:
    """The latest notices, the public list: newest first, with their jurisdiction."""
    return list(db.session.execute(
        select(PublicityNotice).options(selectinload(PublicityNotice.jurisdiction))
        .order_by(PublicityNotice.starts_on.desc(), PublicityNotice.id.desc()).limit(limit)
    ).scalars())


def managed_notice(user: User, notice_id: int) -> PublicityNotice:
    notice = get_notice(notice_id)
    if not can_manage_notice(user, notice):
        raise NotFound(_("未找到该公示。"))
    return notice


def closable_from(notice: PublicityNotice) -> date:
    """The first day a notice may be closed: its last day (API.md: "allowed from `ends_on`
    on"). Closing ends the objections, so the pages say so beside the button."""
    return notice.ends_on


def is_running(notice: PublicityNotice, today: date | None = None) -> bool:
    today = today or clock.today()
    return notice.status == NoticeStatus.open and notice.starts_on <= today <= notice.ends_on


def submit_objection(notice: PublicityNotice, application_id: int, name: str, contact: str, reason: str,
                     remote_addr: str | None) -> Objection:
    if not is_running(notice):
        raise Conflict(_("该公示不在公示期内（%(start)s 至 %(end)s），不能提出异议。",
                         start=notice.starts_on.isoformat(), end=notice.ends_on.isoformat()))
    entry = next((e for e in notice.entries if e.application_id == application_id and e.outcome == EntryOutcome.listed), None)
    if entry is None:
        raise ValidationFailed(_("该企业不在本次公示名单中。"), {"application_id": [_("请从公示名单中选择。")]})
    objection = Objection(entry_id=entry.id, name=name.strip(), contact=contact.strip(), reason=reason.strip(),
                          remote_addr=remote_addr, status=ObjectionStatus.open)
    db.session.add(objection)
    db.session.flush()
    audit.append("objection.create", "publicity_notice", notice.id, None, objection_id=objection.id,
                 application_id=application_id, name=objection.name, contact=objection.contact,
                 reason=objection.reason, remote_addr=remote_addr)
    return objection


def resolve_objection(user: User, notice: PublicityNotice, objection_id: int, outcome: str, action: str | None,
                      comment: str) -> Objection:
    objection = db.session.get(Objection, objection_id) if valid_id(objection_id) else None
    if objection is None or objection.entry.notice_id != notice.id:
        raise NotFound(_("未找到该异议。"))
    if objection.status != ObjectionStatus.open:
        raise Conflict(_("该异议已处理。"))
    entry, application, now = objection.entry, objection.entry.application, clock.now()
    objection.status = ObjectionStatus.upheld if outcome == "uphold" else ObjectionStatus.dismissed
    objection.resolution, objection.handled_by_id, objection.handled_at = comment.strip(), user.id, now
    audit.append(f"objection.{objection.status}", "publicity_notice", notice.id, user.id,
                 objection_id=objection.id, application_id=application.id, action=action, comment=comment)
    if outcome == "uphold":
        for other in entry.objections:
            if other.id != objection.id and other.status == ObjectionStatus.open:
                other.status, other.handled_by_id, other.handled_at = ObjectionStatus.upheld, user.id, now
                other.resolution = _("与异议 #%(id)s 一并处理。", id=objection.id)
        entry.outcome = EntryOutcome.removed
        if action == "return":
            final = edition_of_batch(application.batch.edition_code).levels[application.target_level].final_stage
            _move(application, application.status, ApplicationStatus.returned, user, "objection_return",
                  comment, stage=final)
        else:
            _move(application, application.status, ApplicationStatus.rejected, user, "objection_reject", comment)
    elif entry.outcome == EntryOutcome.held and not _open_objections(entry, excluding=objection.id):
        # The notice closed while this objection was open: the entry is rated now.
        entry.outcome = EntryOutcome.rated
        _move(application, ApplicationStatus.held, ApplicationStatus.rated, user, "rated",
              _("异议不成立，予以认定。"))
        grant(application, clock.today())
    db.session.flush()
    return objection


def _open_objections(entry: PublicityEntry, excluding: int | None = None) -> bool:
    return any(o.status == ObjectionStatus.open and o.id != excluding for o in entry.objections)


def close_notice(user: User, notice: PublicityNotice) -> tuple[list[int], list[int]]:
    if notice.status != NoticeStatus.open:
        raise Conflict(_("该公示已结束。"))
    today = clock.today()
    if today < closable_from(notice):
        raise Conflict(_("公示期至 %(end)s，自最后一天（%(first)s）起方可结束公示。",
                         end=notice.ends_on.isoformat(), first=closable_from(notice).isoformat()))
    moved = db.session.execute(
        update(PublicityNotice).where(PublicityNotice.id == notice.id, PublicityNotice.status == NoticeStatus.open)
        .values(status=NoticeStatus.closed, closed_at=clock.now(), closed_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise Conflict(_("该公示已结束。"))
    rated, held = [], []
    for entry in notice.entries:
        if entry.outcome != EntryOutcome.listed:
            continue
        application = entry.application
        if _open_objections(entry):
            entry.outcome = EntryOutcome.held
            _move(application, ApplicationStatus.publicity, ApplicationStatus.held, user, "held",
                  _("公示期内有异议尚未处理。"))
            held.append(application.id)
        else:
            entry.outcome = EntryOutcome.rated
            _move(application, ApplicationStatus.publicity, ApplicationStatus.rated, user, "rated",
                  _("公示期满无异议，予以认定。"))
            grant(application, today)
            rated.append(application.id)
    audit.append("publicity.close", "publicity_notice", notice.id, user.id, rated=rated, held=held)
    db.session.flush()
    return rated, held


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def grant(application: Application, on: date) -> Rating:
    """The rating an application earns; a higher level supersedes the firm's lower valid ones."""
    years = current_app.config["RATING_VALIDITY_YEARS"]
    existing = db.session.execute(
        select(Rating).where(Rating.enterprise_id == application.enterprise_id,
                             Rating.level == application.target_level, Rating.year == application.batch.year)
    ).scalar_one_or_none()
    if existing is not None:
        # The firm already holds this level for the year (an imported list, say): one rating
        # per firm, level and year, now linked to the application that earned it again.
        if existing.application_id is None:
            existing.application_id = application.id
        audit.append("rating.exists", "rating", existing.id, None, application_id=application.id,
                     level=existing.level, year=existing.year)
        return existing
    batch = application.batch
    reward = edition_of_batch(batch.edition_code).levels[application.target_level].reward_yuan
    firm = application.enterprise
    # The name and county certified: what the certificate and /verify show from now on.
    rating = Rating(enterprise_id=application.enterprise_id, certified_name=firm.name,
                    certified_district_code=firm.district_code, level=application.target_level,
                    year=batch.year, batch_id=application.batch_id, application_id=application.id,
                    certificate_no=ratings.certificate_number(batch.province_code, batch.year, batch.number,
                                                              application.target_level),
                    granted_on=on, valid_until=add_years(on, years) - timedelta(days=1),
                    status=RatingStatus.valid, reward_yuan=reward, disbursement=Disbursement.due)
    db.session.add(rating)
    db.session.flush()
    certificates.request_render(rating)
    superseded = db.session.execute(
        update(Rating)
        .where(Rating.enterprise_id == application.enterprise_id, Rating.level < application.target_level,
               Rating.status == RatingStatus.valid)
        .values(status=RatingStatus.superseded, status_changed_on=on,
                status_reason=_("被 %(year)s 年度 %(level)s 星级认定取代。", year=rating.year,
                                level=rating.level))
        .returning(Rating.id)
        .execution_options(synchronize_session=False)
    ).scalars().all()
    aggregates.refresh_firm(application.enterprise_id)   # the dashboards' counts, in this transaction
    audit.append("rating.grant", "rating", rating.id, None, application_id=application.id,
                 enterprise_id=application.enterprise_id, level=rating.level, year=rating.year,
                 granted_on=on.isoformat(), valid_until=rating.valid_until.isoformat(), superseded=superseded,
                 reward_yuan=str(reward))
    return rating


def managed_notices(user: User, limit: int = 200) -> list[PublicityNotice]:
    """The notices `user` manages, newest first (the scope condition in SQL)."""
    query = select(PublicityNotice).order_by(PublicityNotice.id.desc()).limit(limit)
    if not acts_everywhere(user):
        if not is_official(user) or user.jurisdiction is None:
            return []
        query = query.join(Jurisdiction, Jurisdiction.code == PublicityNotice.jurisdiction_code).where(
            inside(user.jurisdiction))
    return list(db.session.execute(query.options(selectinload(PublicityNotice.entries))).scalars())


def mask_uscc(code: str) -> str:
    """Partly masked credit code for public pages: 9132040*********12 style."""
    return code[:8] + "*" * 8 + code[-2:]


def approved_in_scope(user: User, limit: int = 2000) -> list[Application]:
    """Approved applications the caller could put on a notice (their final-say jurisdiction)."""
    query = scope_applications(
        select(Application).where(Application.status == ApplicationStatus.approved).order_by(Application.id)
        .options(selectinload(Application.enterprise).selectinload(Enterprise.district),
                 selectinload(Application.batch)), user
    ).limit(limit)
    applications = db.session.execute(query).scalars().all()
    if user.jurisdiction is None:
        return list(applications)
    return [a for a in applications if final_owner(a) == user.jurisdiction.code]


def publishing_stages() -> dict[str, list[int]]:
    """Which stage's jurisdiction publishes the notices of which levels (stage → levels), by
    the edition of the newest batch: what a publicity page with nothing to publish explains
    (Jiangsu: the cities 3★ and 4★, the province 5★)."""
    from_batch = db.session.execute(select(Batch.edition_code).order_by(Batch.opens_at.desc()).limit(1)).scalar()
    if from_batch is None:
        return {}
    published: dict[str, list[int]] = {}
    for level, rule in sorted(edition_of_batch(from_batch).levels.items()):
        published.setdefault(rule.final_stage, []).append(level)
    return {stage: published[stage] for stage in stages.STAGES if stage in published}
