"""Routing: who reviews an application at its current stage, and by when.

A worker routes an application after it is scored and after every forward; a beat
sweep routes whatever still waits (a broker that was down, a jurisdiction that had no
eligible reviewer until now). Within the jurisdiction that owns the stage, the reviewer
with the fewest open assignments wins, then the one idle longest; reviewers who declared
a conflict with the firm, its group or one of its cloud providers are never chosen. A
resubmission goes back to the reviewer who returned it when they are still eligible.

The assignment decides whose queue an application is in and its due date; any reviewer
of the owning jurisdiction without a conflict may decide (colleagues cover absences).
Reassigning, declared conflicts, deadlines and the officials' overview are in `assignments`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from rating import clock
from rating.extensions import db
from rating.models import (
    Application,
    ApplicationStatus,
    CloudService,
    EmailKind,
    Enterprise,
    Jurisdiction,
    ReviewAssignment,
    ReviewerConflict,
    Role,
    StatusChange,
    User,
)
from rating.permissions import inside
from rating.platform import audit, outbox
from rating.rules import stages


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


# Built once (routing runs in every scoring job), as Core statements on the tables (the
# ORM's handling of mapped columns adds CPU to every statement). Per reviewer, the open
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
    """Assign the application's current stage to a reviewer; idempotent. The caller commits
    (the route_application task, or `route_waiting` for each): the locks taken here, on the
    application and on the jurisdiction's reviewers, are held until then."""
    # The firm, its division and the batch come with the locked row: one round trip, not four.
    application = db.session.execute(
        select(Application)
        .options(joinedload(Application.enterprise, innerjoin=True).joinedload(Enterprise.district, innerjoin=True),
                 joinedload(Application.batch, innerjoin=True))
        .where(Application.id == application_id).with_for_update(of=Application, key_share=True)
    ).scalar_one_or_none()
    if application is None:
        return "missing"
    current = open_assignment(application.id)
    if application.status != ApplicationStatus.in_review:
        if current is not None:
            close_open(application.id, "left_stage")
            return "closed"
        return "not_in_review"
    if current is not None and current.stage == application.stage and current.round == application.submission_round:
        return "kept"
    if current is not None:
        close_open(application.id, "left_stage")
    subject = subject_of(application)
    now = clock.now()
    chosen = choose([subject], now)[subject.application_id]
    if chosen is None:
        return "unassigned"
    due = entered_stage_at(application) + timedelta(days=application.batch.review_days(application.stage))
    try:
        # A savepoint: an official's reassignment (which does not lock the application)
        # may have opened one meanwhile; the caller's transaction stays usable.
        with db.session.begin_nested():
            assign(subject, chosen, now, due, None)
    except IntegrityError:
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


def assign(subject: Subject, reviewer, now: datetime, due: datetime, by: User | None,
            reason: str | None = None) -> int:
    """Insert the assignment, record it and write the reviewer's email; `reviewer` has
    id, email, locale and name (a Candidate, or a User). Returns its id."""
    return _assign_many([(subject, reviewer, due)], now, by, reason)[0]


def _assign_many(items: list[tuple[Subject, object, datetime]], now: datetime, by: User | None,
                 reason: str | None = None) -> list[int]:
    """`assign` for several (subject, reviewer, due) at once: one insert."""
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
        outbox.queue_reviewer(EmailKind.assigned, reviewer.id, subject.application_id, due,
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
    return list(db.session.execute(query).scalars())


def route_waiting(limit: int = 500, owner: str | None = None) -> dict[str, int]:
    """A runner: routes each waiting application and commits it on its own (each is its own
    unit of work, and holds its reviewers' locks only while it is routed)."""
    counts: dict[str, int] = {}
    ids = waiting(limit, owner)
    db.session.commit()
    for application_id in ids:
        outcome = route(application_id)
        db.session.commit()
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
