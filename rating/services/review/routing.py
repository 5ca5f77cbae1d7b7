"""Routing: who reviews an application at its current stage, and by when.

A worker routes an application after it is scored and after every forward; a beat
sweep routes whatever still waits (a broker that was down, a jurisdiction that had no
eligible reviewer until now). Within the jurisdiction that owns the stage, the reviewer
with the fewest open assignments wins, then the one idle longest; reviewers who declared
a conflict with the firm, its group or one of its cloud providers are never chosen. A
resubmission goes back to the reviewer who returned it when they are still eligible.

The assignment decides whose queue an application is in and its due date; any reviewer
of the owning jurisdiction without a conflict may decide (colleagues cover absences).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, case, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from rating import clock
from rating.errors import Conflict, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import (
    Application,
    ApplicationStatus,
    CloudService,
    Enterprise,
    Jurisdiction,
    ReviewAssignment,
    ReviewerConflict,
    Role,
    Stage,
    StatusChange,
    User,
)
from rating.permissions import inside
from rating.rules import stages
from rating.platform import audit, outbox


def stage_owner(application: Application) -> str | None:
    """The division code of the jurisdiction that owns the application's current stage."""
    if application.stage is None:
        return None
    district: Jurisdiction = application.enterprise.district
    return stages.owner_code(application.stage, county=district.code, city=district.city_code,
                             province=district.province_code)


def open_assignment(application_id: int) -> ReviewAssignment | None:
    return db.session.execute(
        select(ReviewAssignment).where(ReviewAssignment.application_id == application_id,
                                       ReviewAssignment.closed_at.is_(None))
    ).scalar_one_or_none()


def close_open(application_id: int, reason: str, at: datetime | None = None) -> None:
    """Close the open assignment (if any) in the current transaction."""
    close_open_many([application_id], reason, at)


def close_open_many(application_ids: list[int], reason: str, at: datetime | None = None) -> None:
    db.session.execute(
        update(ReviewAssignment)
        .where(ReviewAssignment.application_id.in_(application_ids), ReviewAssignment.closed_at.is_(None))
        .values(closed_at=at or clock.now(), closed_reason=reason)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Subject:
    """What routing needs to know of an application, however the caller loaded it."""
    application_id: int
    enterprise_id: int
    group_name: str | None
    firm_name: str
    level: int
    stage: str
    round: int
    owner: str


def subject_of(application: Application) -> Subject:
    return Subject(application.id, application.enterprise_id, application.enterprise.group_name,
                   application.enterprise.name, application.target_level, application.stage,
                   application.submission_round, stage_owner(application))


def _conflicted(reviewer_id, application_id: int, enterprise_id: int, group_name: str | None):
    providers = select(CloudService.provider).where(CloudService.application_id == application_id)
    parties = [ReviewerConflict.enterprise_id == enterprise_id, ReviewerConflict.provider_name.in_(providers)]
    if group_name:
        parties.append(ReviewerConflict.group_name == group_name)
    return exists().where(ReviewerConflict.reviewer_id == reviewer_id, or_(*parties))


def conflicted(reviewer_id, application: Application):
    """SQL condition: the reviewer declared a conflict with this application's firm, group or providers."""
    return _conflicted(reviewer_id, application.id, application.enterprise_id, application.enterprise.group_name)


def has_conflict(user: User, application: Application) -> bool:
    return bool(db.session.execute(select(conflicted(user.id, application))).scalar())


# Built once (routing runs in every scoring job), as Core statements on the tables (the
# ORM's handling of mapped columns cost ~0.3 ms of CPU a statement). Per reviewer, the open
# count and the latest assignment are each read through an index of their own, rather
# than by aggregating every assignment a reviewer ever had, which grows with the years of
# closed work.
_USERS, _ASSIGNMENTS, _CONFLICT_T = User.__table__, ReviewAssignment.__table__, ReviewerConflict.__table__
_U, _RA, _RC = _USERS.c, _ASSIGNMENTS.c, _CONFLICT_T.c
_A, _F, _S = Application.__table__.c, Enterprise.__table__.c, CloudService.__table__.c
_OPEN_COUNT = (select(func.count()).where(_RA.reviewer_id == _U.id, _RA.closed_at.is_(None))
               .correlate(_USERS).scalar_subquery())
_LAST_ASSIGNED = (select(func.max(_RA.assigned_at)).where(_RA.reviewer_id == _U.id)
                  .correlate(_USERS).scalar_subquery())
_REVIEWERS = (_U.role == Role.reviewer, _U.active.is_(True), _U.jurisdiction_code.in_(bindparam("owners", expanding=True)))
# FOR NO KEY UPDATE, not FOR UPDATE: routings exclude one another, but a row that merely
# references a reviewer (a decision's status change and audit entry name their actor) takes
# only a key-share lock, which must not wait for a routing. That wait deadlocked: the
# decision held the audit chain's head, the routing held the reviewer and wanted the head.
_LOCK_REVIEWERS = select(_U.id).where(*_REVIEWERS).order_by(_U.id).with_for_update(key_share=True)
_CANDIDATES = select(_U.id, _U.jurisdiction_code, _OPEN_COUNT.label("open"), _LAST_ASSIGNED.label("last"),
                     _U.email, _U.locale, _U.name).where(*_REVIEWERS)
# Which of those reviewers declared a conflict with which of the applications: its firm,
# its group (a firm without one never matches) or one of its cloud providers.
_CONFLICTS = (
    select(_A.id, _RC.reviewer_id)
    .select_from(
        Application.__table__.join(Enterprise.__table__, _F.id == _A.enterprise_id)
        .join(_CONFLICT_T, or_(
            _RC.enterprise_id == _A.enterprise_id,
            _RC.group_name == func.nullif(_F.group_name, ""),
            _RC.provider_name.in_(select(_S.provider).where(_S.application_id == _A.id)),
        ))
        .join(_USERS, _U.id == _RC.reviewer_id))
    .where(_A.id.in_(bindparam("application_ids", expanding=True)), *_REVIEWERS)
)
_EARLIER = (
    select(_RA.application_id, _RA.stage, _RA.round, _RA.reviewer_id)
    .where(_RA.application_id.in_(bindparam("application_ids", expanding=True)))
    .order_by(_RA.id)
)


@dataclass
class Candidate:
    """A reviewer who may be chosen, with what the choice and the assignment email need."""
    id: int
    owner: str
    open: int
    last: datetime | None
    email: str
    locale: str | None
    name: str

    def rank(self) -> tuple:
        # Fewest open assignments, then idle longest (never assigned first), then oldest account.
        return (self.open, self.last is not None, self.last or datetime.min.replace(tzinfo=UTC), self.id)


def entered_stage_at(application: Application) -> datetime:
    """When the application last reached its current stage (scored into it, or forwarded)."""
    at = db.session.execute(
        select(func.max(StatusChange.at)).where(
            StatusChange.application_id == application.id,
            StatusChange.to_status == ApplicationStatus.in_review,
            StatusChange.to_stage == application.stage,
        )
    ).scalar()
    return at or application.updated_at


def choose(subjects: list[Subject], now: datetime) -> dict[int, Candidate | None]:
    """The reviewer for each application (by id; None when nobody is eligible), with a
    constant number of statements however many there are. Each choice counts the ones
    made before it, so a batch spreads over a jurisdiction's reviewers as single
    routings would. A resubmission goes back to its earlier reviewer when still eligible."""
    if not subjects:
        return {}
    owners = sorted({subject.owner for subject in subjects})
    if db.engine.dialect.name == "postgresql":
        # Routings inside one jurisdiction take turns, so that two of them never both
        # count the same reviewer as the least loaded. (A statement of its own: the
        # counts below must be read after the locks are granted, with a fresh snapshot.)
        db.session.execute(_LOCK_REVIEWERS, {"owners": owners})
    pool: dict[str, list[Candidate]] = {}
    for row in db.session.execute(_CANDIDATES, {"owners": owners}):
        pool.setdefault(row.jurisdiction_code, []).append(Candidate(*row))
    if not pool:
        return {subject.application_id: None for subject in subjects}
    ids = [subject.application_id for subject in subjects]
    conflicts = set(map(tuple, db.session.execute(_CONFLICTS, {"application_ids": ids, "owners": owners})))
    earlier: dict[tuple[int, str], list[tuple[int, int]]] = {}
    if any(subject.round > 1 for subject in subjects):
        for application_id, stage, round_, reviewer_id in db.session.execute(_EARLIER, {"application_ids": ids}):
            earlier.setdefault((application_id, stage), []).append((round_, reviewer_id))
    chosen: dict[int, Candidate | None] = {}
    for subject in subjects:
        candidates = [c for c in pool.get(subject.owner, ()) if (subject.application_id, c.id) not in conflicts]
        pick = min(candidates, key=Candidate.rank, default=None)
        previous = [reviewer for round_, reviewer in earlier.get((subject.application_id, subject.stage), ())
                    if round_ < subject.round]
        if previous:
            pick = next((c for c in candidates if c.id == previous[-1]), pick)
        if pick is not None:
            pick.open += 1
            pick.last = now
        chosen[subject.application_id] = pick
    return chosen


def route(application_id: int) -> str:
    """Assign the application's current stage to a reviewer; idempotent. One transaction."""
    # The firm, its division and the batch come with the locked row: one round trip, not four.
    application = db.session.execute(
        select(Application)
        .options(joinedload(Application.enterprise, innerjoin=True).joinedload(Enterprise.district, innerjoin=True),
                 joinedload(Application.batch, innerjoin=True))
        .where(Application.id == application_id).with_for_update(of=Application, key_share=True)
    ).scalar_one_or_none()
    if application is None:
        db.session.rollback()
        return "missing"
    current = open_assignment(application.id)
    if application.status != ApplicationStatus.in_review:
        if current is not None:
            close_open(application.id, "left_stage")
            db.session.commit()
            return "closed"
        db.session.rollback()
        return "not_in_review"
    if current is not None and current.stage == application.stage and current.round == application.submission_round:
        db.session.rollback()
        return "kept"
    if current is not None:
        close_open(application.id, "left_stage")
    subject = subject_of(application)
    now = clock.now()
    chosen = choose([subject], now)[subject.application_id]
    if chosen is None:
        db.session.commit()
        return "unassigned"
    due = entered_stage_at(application) + timedelta(days=application.batch.review_days(application.stage))
    _assign(subject, chosen, now, due, None)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # a concurrent routing assigned it first
        return "kept"
    return "assigned"


def assign_scored(subjects: list[tuple[Subject, int]], now: datetime) -> dict[int, int | None]:
    """Route applications that scoring has just moved into their stage, inside the
    scoring transaction (the caller commits): one transaction and one turn on the audit
    chain per scoring job instead of two. `subjects`: (subject, review days) pairs.
    Returns each application's reviewer id, or None when nobody is eligible (the
    route-waiting sweep assigns it once someone is)."""
    returning = [subject.application_id for subject, _days in subjects if subject.round > 1]
    if returning:
        # Normally closed by the return already.
        close_open_many(returning, "left_stage", now)
    chosen = choose([subject for subject, _days in subjects], now)
    _assign_many([(subject, chosen[subject.application_id], now + timedelta(days=days))
                  for subject, days in subjects if chosen[subject.application_id] is not None], now, None)
    return {application_id: pick.id if pick else None for application_id, pick in chosen.items()}


_INSERT_ASSIGNMENT = insert(ReviewAssignment.__table__).returning(ReviewAssignment.__table__.c.id,
                                                                   sort_by_parameter_order=True)


def _assign(subject: Subject, reviewer, now: datetime, due: datetime, by: User | None,
            reason: str | None = None) -> int:
    """Insert the assignment, record it and write the reviewer's email; `reviewer` has
    id, email, locale and name (a Candidate, or a User). Returns its id."""
    return _assign_many([(subject, reviewer, due)], now, by, reason)[0]


def _assign_many(items: list[tuple[Subject, object, datetime]], now: datetime, by: User | None,
                 reason: str | None = None) -> list[int]:
    """`_assign` for several (subject, reviewer, due) at once: one insert."""
    if not items:
        return []
    ids = db.session.execute(_INSERT_ASSIGNMENT, [{
        "application_id": subject.application_id, "round": subject.round, "stage": subject.stage,
        "reviewer_id": reviewer.id, "assigned_by_id": by.id if by else None, "assigned_at": now, "due_at": due,
    } for subject, reviewer, due in items]).scalars().all()
    for assignment_id, (subject, reviewer, due) in zip(ids, items):
        audit.append("assignment.create", "application", subject.application_id, by.id if by else None, at=now,
                     assignment_id=assignment_id, reviewer_id=reviewer.id, stage=subject.stage,
                     round=subject.round, due_at=due.isoformat(), reason=reason)
        outbox.queue_reviewer("assigned", reviewer.id, subject.application_id, due,
                                     known=(subject.level, subject.stage, subject.firm_name), reviewer=reviewer)
    return ids


def waiting(limit: int = 500, owner: str | None = None) -> list[int]:
    """In-review applications without an open assignment (optionally inside one jurisdiction)."""
    query = (
        select(Application.id)
        .where(Application.status == ApplicationStatus.in_review,
               ~exists().where(ReviewAssignment.application_id == Application.id,
                               ReviewAssignment.closed_at.is_(None)))
        .order_by(Application.id).limit(limit)
    )
    if owner is not None:
        scope = db.session.get(Jurisdiction, owner)
        if scope is None:
            return []
        query = query.join(Enterprise, Enterprise.id == Application.enterprise_id).join(
            Jurisdiction, Jurisdiction.code == Enterprise.district_code)
        query = query.where(inside(scope))
    ids = list(db.session.execute(query).scalars())
    db.session.rollback()
    return ids


def route_waiting(limit: int = 500, owner: str | None = None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for application_id in waiting(limit, owner):
        outcome = route(application_id)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def reassign(official: User, application: Application, reviewer_id: int, reason: str) -> ReviewAssignment:
    """An official moves the current stage to another reviewer; the due date stays."""
    if official.role not in (Role.official, Role.admin):
        raise NotFound(_("未找到该申报。"))
    if application.status != ApplicationStatus.in_review:
        raise Conflict(_("只有审核中的申报可以改派。"))
    owner = stage_owner(application)
    if official.role == Role.official and (
        official.jurisdiction is None or not official.jurisdiction.contains(db.session.get(Jurisdiction, owner))
    ):
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
    assignment_id = _assign(subject_of(application), target, now, due, official, reason)
    db.session.commit()
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
    db.session.commit()
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
        outbox.queue_reviewer("reminder", assignment.reviewer_id, assignment.application_id,
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
        outbox.queue_reviewer("overdue", assignment.reviewer_id, assignment.application_id,
                                     assignment.due_at)
    db.session.commit()
    return marked
