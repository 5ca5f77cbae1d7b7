"""Assignments after the router made them: an official reassigns one, a reviewer declares a
conflict (which hands conflicting assignments back to the router), the deadline sweep marks
reminders and overdue ones, and officials see the workload per jurisdiction."""
from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, select

from rating import clock
from rating.errors import Conflict, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import (
    Application,
    ApplicationStatus,
    EmailKind,
    Enterprise,
    Jurisdiction,
    ReviewAssignment,
    ReviewerConflict,
    Role,
    Stage,
    User,
)
from rating.permissions import acts_for, has_conflict, inside, is_official
from rating.platform import audit, outbox
from rating.rules import stages
from rating.services.review.routing import assign, close_open, entered_stage_at, open_assignment, stage_owner, subject_of


def reassign(official: User, application: Application, reviewer_id: int, reason: str) -> ReviewAssignment:
    """An official moves the current stage to another reviewer; the due date stays."""
    if not is_official(official):
        raise NotFound(_("未找到该申报。"))
    if application.status != ApplicationStatus.in_review:
        raise Conflict(_("只有审核中的申报可以改派。"))
    owner = stage_owner(application)
    if not acts_for(official, db.session.get(Jurisdiction, owner)):
        raise NotFound(_("未找到该申报。"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("请说明改派原因。"), {"reason": [_("请填写改派原因。")]})
    target = db.session.get(User, reviewer_id)
    if (target is None or target.role != Role.reviewer or not target.active
            or target.jurisdiction_code != owner):
        raise ValidationFailed(_("只能改派给%(stage)s所属地区的审核人员。", stage=Stage(application.stage).label),
                               {"reviewer_id": [_("审核人员不正确。")]})
    if (target.jurisdiction.level != stages.owning_level(application.stage)
            or has_conflict(target, application)):
        raise ValidationFailed(_("该审核人员已声明与该企业存在利益冲突，不能改派。"),
                               {"reviewer_id": [_("存在利益冲突。")]})
    current = open_assignment(application.id)
    now = clock.now()
    due = current.due_at if current else entered_stage_at(application) + timedelta(
        days=application.batch.review_days(application.stage))
    if current is not None:
        close_open(application.id, "reassigned", now)
    assignment_id = assign(subject_of(application), target, now, due, official, reason)
    return db.session.get(ReviewAssignment, assignment_id)


def declare_conflict(reviewer: User, enterprise_id: int | None = None, group_name: str | None = None,
                     provider_name: str | None = None, note: str | None = None) -> ReviewerConflict:
    group_name = (group_name or "").strip() or None
    provider_name = (provider_name or "").strip() or None
    if sum(x is not None for x in (enterprise_id, group_name, provider_name)) != 1:
        raise ValidationFailed(_("请只填写一项：企业、企业集团或云服务商。"))
    too_long = {key: [_("不能超过 %(n)s 个字。", n=limit)]
                for key, value, limit in (("group_name", group_name, 200), ("provider_name", provider_name, 200),
                                          ("note", note, 4000)) if value and len(value) > limit}
    if too_long:
        raise ValidationFailed(_("提交的数据有误，请检查标出的项目。"), too_long)
    if enterprise_id is not None and db.session.get(Enterprise, enterprise_id) is None:
        raise ValidationFailed(_("企业不存在。"), {"enterprise_id": [_("企业不存在。")]})
    conflict = ReviewerConflict(reviewer_id=reviewer.id, enterprise_id=enterprise_id, group_name=group_name,
                                provider_name=provider_name, note=note)
    db.session.add(conflict)
    db.session.flush()
    audit.append("conflict.declare", "user", reviewer.id, reviewer.id, enterprise_id=enterprise_id,
                 group_name=group_name, provider_name=provider_name, note=note)
    # An open assignment that now conflicts goes back to the router.
    for assignment in db.session.execute(
        select(ReviewAssignment).join(Application, Application.id == ReviewAssignment.application_id)
        .where(ReviewAssignment.reviewer_id == reviewer.id, ReviewAssignment.closed_at.is_(None))
    ).scalars().all():
        if has_conflict(reviewer, assignment.application):
            close_open(assignment.application_id, "reassigned")
    return conflict


def overview(scope: Jurisdiction) -> list[dict]:
    """Per owning jurisdiction inside `scope`: in review, unassigned, overdue, eligible reviewers."""
    now = clock.now()
    owner_col = case({stage: stages.owner_code(stage, county=Jurisdiction.code, city=Jurisdiction.city_code,
                                               province=Jurisdiction.province_code)
                      for stage in stages.STAGES}, value=Application.stage)
    rows = db.session.execute(
        select(owner_col.label("owner"), Application.stage,
               func.count().label("in_review"),
               func.sum(case((ReviewAssignment.id.is_(None), 1), else_=0)).label("unassigned"),
               func.sum(case((ReviewAssignment.due_at < now, 1), else_=0)).label("overdue"))
        .select_from(Application)
        .join(Enterprise, Enterprise.id == Application.enterprise_id)
        .join(Jurisdiction, Jurisdiction.code == Enterprise.district_code)
        .outerjoin(ReviewAssignment, and_(ReviewAssignment.application_id == Application.id,
                                          ReviewAssignment.closed_at.is_(None)))
        .where(Application.status == ApplicationStatus.in_review, inside(scope))
        .group_by(owner_col, Application.stage)
        .order_by(owner_col, Application.stage)
    ).all()
    reviewers = dict(db.session.execute(
        select(User.jurisdiction_code, func.count()).where(User.role == Role.reviewer, User.active.is_(True))
        .group_by(User.jurisdiction_code)
    ).all())
    names = dict(db.session.execute(select(Jurisdiction.code, Jurisdiction.name)).all())
    return [
        {"jurisdiction_code": r.owner, "jurisdiction_name": names.get(r.owner, r.owner), "stage": r.stage,
         "in_review": r.in_review, "unassigned": int(r.unassigned or 0), "overdue": int(r.overdue or 0),
         "reviewers": reviewers.get(r.owner, 0),
         # Waiting work where nobody could take it (not merely work the router has yet to reach).
         "no_reviewer": int(r.unassigned or 0) > 0 and reviewers.get(r.owner, 0) == 0}
        for r in rows
    ]


def deadlines(remind_before: timedelta) -> dict[str, list[int]]:
    """Mark assignments due soon (reminded) and past due (overdue), once each; returns their ids."""
    now = clock.now()
    marked: dict[str, list[int]] = {"reminded": [], "overdue": []}
    due_soon = db.session.execute(
        select(ReviewAssignment).where(ReviewAssignment.closed_at.is_(None), ReviewAssignment.reminded_at.is_(None),
                                       ReviewAssignment.due_at <= now + remind_before,
                                       ReviewAssignment.due_at > now)
        .with_for_update(skip_locked=True, key_share=True)
    ).scalars().all()
    for assignment in due_soon:
        assignment.reminded_at = now
        marked["reminded"].append(assignment.id)
        outbox.queue_reviewer(EmailKind.reminder, assignment.reviewer_id, assignment.application_id,
                              assignment.due_at)
    overdue = db.session.execute(
        select(ReviewAssignment).where(ReviewAssignment.closed_at.is_(None), ReviewAssignment.overdue_at.is_(None),
                                       ReviewAssignment.due_at <= now)
        .with_for_update(skip_locked=True, key_share=True)
    ).scalars().all()
    for assignment in overdue:
        assignment.overdue_at = now
        marked["overdue"].append(assignment.id)
        audit.append("assignment.overdue", "application", assignment.application_id, None, at=now,
                     assignment_id=assignment.id, reviewer_id=assignment.reviewer_id,
                     due_at=assignment.due_at.isoformat())
        outbox.queue_reviewer(EmailKind.overdue, assignment.reviewer_id, assignment.application_id,
                              assignment.due_at)
    db.session.flush()
    return marked
