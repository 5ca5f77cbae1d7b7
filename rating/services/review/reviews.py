"""Review stages: who decides what at the county, city and province stages.

Which stage has the final say for a level comes from the guide edition (`final_stage`):
before it a stage forwards, at it a stage approves. Every decision is a conditional
UPDATE on the version the reviewer saw, so of two people deciding at once exactly one
wins and the other is told the application changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import and_, func, literal, select, update
from sqlalchemy.orm import aliased

from rating import clock
from rating.errors import Conflict, Forbidden, Ineligible, ValidationFailed
from rating.extensions import db
from rating.models import (
    Application,
    ApplicationScore,
    ApplicationStatus,
    BatchQuota,
    Decision,
    Enterprise,
    ReviewAssignment,
    Role,
    ScoreAdjustment,
    Stage,
    User,
)
from rating.permissions import can_review, is_official, scope_applications
from rating.platform import jobs
from rating.rules import stages
from rating.services.filing import history
from rating.services.review import experts, routing
from rating.services.reference import edition_of_batch

@dataclass(frozen=True)
class Adjustment:
    code: str
    points: Decimal
    reason: str


def allowed_decisions(application: Application) -> tuple[Decision, ...]:
    """What the stage the application is at may decide, from the edition's final stage."""
    if application.status != ApplicationStatus.in_review or application.stage is None:
        return ()
    final = edition_of_batch(application.batch.edition_code).levels[application.target_level].final_stage
    if application.stage == final:
        return (Decision.approve, Decision.return_, Decision.reject)
    if stages.before(application.stage, final):
        return (Decision.forward, Decision.return_, Decision.reject)
    return (Decision.return_, Decision.reject)


def decide(user: User, application: Application, decision: str, comment: str | None, version: int | None,
           adjustments: list[Adjustment] = ()) -> Application:
    if version is None:
        raise ValidationFailed(_("缺少版本号。"), {"version": [_("请提供查看申报时的版本号。")]})
    if version != application.version:
        # Checked first: whoever lost a race learns that, not that the stage moved on.
        raise Conflict(_("该申报已被他人处理或修改，请刷新后查看最新状态。"), {"version": [_("版本已过期。")]})
    if not can_review(user, application):
        raise Forbidden(_("只有当前审核阶段所属地区的审核人员可以作出决定。"))
    if decision not in Decision.values():
        raise ValidationFailed(_("决定类型不正确。"), {"decision": [_("应为 forward、approve、return 或 reject。")]})
    decision = Decision(decision)
    allowed = allowed_decisions(application)
    if decision not in allowed:
        raise ValidationFailed(
            _("%(stage)s阶段不能作出该决定（可选：%(allowed)s）。", stage=Stage(application.stage).label,
              allowed="、".join(allowed)),
            {"decision": [_("当前阶段不允许该决定。")]},
        )
    comment = (comment or "").strip()
    if decision in (Decision.return_, Decision.reject) and not comment:
        raise ValidationFailed(_("退回或不通过时必须填写意见。"), {"comment": [_("请填写意见。")]})
    _check_adjustments(application, adjustments)
    if decision == Decision.approve:
        missing = experts.missing_before_approval(application)
        if missing:
            raise ValidationFailed(_("还有 %(n)s 位指派的专家尚未评分，评分完成后方可通过。", n=missing),
                                   {"decision": [_("专家评分尚未完成。")]})
        _check_quota(application)
    from_status, from_stage = application.status, application.stage
    if decision == Decision.forward:
        status, stage = ApplicationStatus.in_review, Stage(stages.next_stage(application.stage))
    elif decision == Decision.approve:
        status, stage = ApplicationStatus.approved, None
    elif decision == Decision.return_:
        status, stage = ApplicationStatus.returned, application.stage
    else:
        status, stage = ApplicationStatus.rejected, None
    moved = db.session.execute(
        update(Application)
        .where(Application.id == application.id, Application.version == version,
               Application.status == ApplicationStatus.in_review, Application.stage == from_stage)
        .values(status=status, stage=stage, version=version + 1, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise Conflict(_("该申报已被他人处理或修改，请刷新后查看最新状态。"), {"version": [_("版本已过期。")]})
    routing.close_open(application.id, "decided")
    for item in adjustments:
        db.session.add(ScoreAdjustment(application_id=application.id, round=application.submission_round,
                                       stage=from_stage, indicator_code=item.code, points=item.points,
                                       reason=item.reason, actor_id=user.id))
    history.record_change(application.id, user.id, decision, from_status, status, from_stage, stage,
                          comment or None, version=version + 1,
                          adjustments=[{"code": a.code, "points": str(a.points), "reason": a.reason}
                                       for a in adjustments])
    if decision == Decision.forward:
        # The next stage's reviewer is chosen by a worker (or by the route-waiting sweep).
        jobs.later(jobs.ROUTE_APPLICATION, application.id)
    db.session.flush()
    db.session.refresh(application)  # the guarded UPDATE bypassed the ORM: read what it wrote
    return application


def _check_adjustments(application: Application, adjustments) -> None:
    current = application.current_score
    items = {i["code"]: i for i in (current.detail["items"] if current else [])}
    fields = {}
    for index, item in enumerate(adjustments):
        known = items.get(item.code)
        if known is None:
            fields[f"adjustments.{index}.code"] = [_("该指标不在本申报的评分中。")]
        elif not Decimal(0) <= item.points <= Decimal(known["max"]):
            fields[f"adjustments.{index}.points"] = [_("调整后的分数应在 0 到 %(max)s 之间。", max=known["max"])]
        if not item.reason.strip():
            fields[f"adjustments.{index}.reason"] = [_("请说明调整理由。")]
    if fields:
        raise ValidationFailed(_("评分调整有误。"), fields)


def adjustments_of(application_id: int) -> list[ScoreAdjustment]:
    """Reviewers' per-indicator adjustments of an application, in the order they were made."""
    return list(db.session.execute(select(ScoreAdjustment).where(ScoreAdjustment.application_id == application_id)
                                   .order_by(ScoreAdjustment.id)).scalars())


APPROVED_OR_LATER = (ApplicationStatus.approved, ApplicationStatus.publicity, ApplicationStatus.held,
                     ApplicationStatus.rated)


def _check_quota(application: Application) -> None:
    """Refuse an approval beyond the batch's cap for the firm's county and the level.

    The quota row is locked while counting, so concurrent approvals in one county take
    turns and cannot overshoot the cap together.
    """
    district = application.enterprise.district_code
    quota = db.session.execute(
        select(BatchQuota).where(BatchQuota.batch_id == application.batch_id,
                                 BatchQuota.district_code == district,
                                 BatchQuota.level == application.target_level).with_for_update(key_share=True)
    ).scalar_one_or_none()
    if quota is None:
        return
    approved = db.session.execute(
        select(func.count()).select_from(Application)
        .join(Enterprise, Enterprise.id == Application.enterprise_id)
        .where(Application.batch_id == application.batch_id, Enterprise.district_code == district,
               Application.target_level == application.target_level,
               Application.status.in_(APPROVED_OR_LATER))
    ).scalar_one()
    if approved >= quota.cap:
        how = (_("名额上限 %(cap)s 家", cap=quota.cap) if quota.max_count is not None else
               _("名额上限为基数 %(base)s 家的 %(percent)s%%，即 %(cap)s 家", base=quota.base_count,
                 percent=quota.percent.normalize(), cap=quota.cap))
        raise Ineligible(
            _("%(county)s本批次%(level)s星级已通过 %(count)s 家，%(how)s，不能再通过。",
              county=application.enterprise.district.name, level=application.target_level,
              count=approved, how=how),
            {"decision": [_("已达名额上限。")]},
        )


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One row of a queue: plain values, selected in the page's one query (no ORM objects,
    no answers or score documents loaded)."""

    application_id: int
    target_level: int
    stage: str | None
    version: int
    assigned_at: datetime | None
    due_at: datetime | None
    reviewer_id: int | None
    enterprise_name: str
    score_total: Decimal | None
    score_max: Decimal | None
    reviewer_name: str | None


_REVIEWER = aliased(User)


def _queue_query(user: User, level: int | None, overdue: bool):
    """The caller's queue: its applications and open assignments (the columns to order,
    count and join by), unordered; None for roles without one."""
    filters = [Application.status == ApplicationStatus.in_review]
    if level is not None:
        filters.append(Application.target_level == level)
    if overdue:
        filters.append(ReviewAssignment.due_at <= clock.now())
    query = select(Application.id, Application.target_level, Application.stage, Application.version,
                   ReviewAssignment.assigned_at, ReviewAssignment.due_at, ReviewAssignment.reviewer_id,
                   Application.enterprise_id, Application.submission_round, Application.updated_at)
    if user.role == Role.reviewer:
        return (query.select_from(Application)
                .join(ReviewAssignment, ReviewAssignment.application_id == Application.id)
                .where(ReviewAssignment.reviewer_id == user.id, ReviewAssignment.closed_at.is_(None), *filters))
    if not is_official(user):
        return None
    query = query.select_from(Application).outerjoin(
        ReviewAssignment, (ReviewAssignment.application_id == Application.id) & ReviewAssignment.closed_at.is_(None))
    return scope_applications(query.where(*filters), user)


def _listed(user: User, query, limit: int, offset: int, counted: bool):
    """`limit` rows of the queue from `offset` as QueueItem values (then, when `counted`, the
    counts of the whole queue and of its overdue part as window aggregates). The firm's
    name, the score and the reviewer's name are joined to the page's rows alone, after the
    order and the limit: a queue page reads what it shows, however long the queue."""
    order = (("due_at", "id") if user.role == Role.reviewer else ("updated_at", "id"))
    if counted:
        query = query.add_columns(func.count().over().label("total"),
                                  func.count().filter(ReviewAssignment.due_at <= clock.now()).over().label("late"))
    page = query.order_by(*(query.selected_columns[name] for name in order)).offset(offset).limit(limit).subquery()
    officials = user.role != Role.reviewer
    listed = (select(page.c.id, page.c.target_level, page.c.stage, page.c.version, page.c.assigned_at,
                     page.c.due_at, page.c.reviewer_id, Enterprise.name, ApplicationScore.total, ApplicationScore.max,
                     _REVIEWER.name if officials else literal(None), *([page.c.total, page.c.late] if counted else []))
              .select_from(page)
              .join(Enterprise, Enterprise.id == page.c.enterprise_id)
              .outerjoin(ApplicationScore, and_(ApplicationScore.application_id == page.c.id,
                                                ApplicationScore.round == page.c.submission_round)))
    if officials:
        listed = listed.outerjoin(_REVIEWER, _REVIEWER.id == page.c.reviewer_id)
    return db.session.execute(listed.order_by(*(page.c[name] for name in order))).all()


def queue_page(user: User, limit: int, level: int | None = None, overdue: bool = False, offset: int = 0
               ) -> tuple[list[QueueItem], int, int]:
    """A page of the queue with the counts of the whole (filtered) queue and of its overdue
    part, in one statement: the counts ride on the rows as window aggregates."""
    if user.role == Role.expert:
        items = queue(user, limit=10_000, level=level, overdue=overdue)
        now = clock.now()
        return items[offset:offset + limit], len(items), sum(1 for i in items if i.due_at and i.due_at <= now)
    query = _queue_query(user, level, overdue)
    if query is None:
        return [], 0, 0
    rows = _listed(user, query, limit, offset, counted=True)
    if not rows:
        total, late = queue_counts(user, level) if offset else (0, 0)
        return [], total, late
    return [QueueItem(*row[:-2]) for row in rows], rows[0][-2], rows[0][-1]


def queue(user: User, limit: int = 500, level: int | None = None, overdue: bool = False,
          offset: int = 0) -> list[QueueItem]:
    """A reviewer's open assignments, soonest due first; an official's in-review applications in scope."""
    if user.role == Role.expert:
        items = []
        for a in experts.queue(user):
            application, current = a.application, a.application.current_score
            items.append(QueueItem(application.id, application.target_level, application.stage, application.version,
                                   a.assigned_at, a.due_at, a.expert_id, application.enterprise.name,
                                   current.total if current else None, current.max if current else None, None))
        return items[offset:offset + limit]
    query = _queue_query(user, level, overdue)
    if query is None:
        return []
    return [QueueItem(*row) for row in _listed(user, query, limit, offset, counted=False)]


def queue_counts(user: User, level: int | None = None) -> tuple[int, int]:
    """(in the queue, of which overdue), counted by the database."""
    if user.role == Role.expert:
        items = experts.queue(user)
        now = clock.now()
        return len(items), sum(1 for a in items if a.due_at <= now)
    query = _queue_query(user, level, False)
    if query is None:
        return 0, 0
    inner = query.subquery()
    total, late = db.session.execute(
        select(func.count(), func.count().filter(inner.c.due_at <= clock.now())).select_from(inner)).one()
    return total, late
