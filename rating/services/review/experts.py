"""Expert review at the city and province stages.

An official of the jurisdiction that owns the stage assigns N experts (default 3); each
scores the indicators independently; the stage shows per indicator the mean, the spread
(highest − lowest) and whether the experts disagree by more than the configured share of
the indicator's maximum. Where experts were assigned, approval waits for all of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import case, func, select, true
from sqlalchemy.exc import IntegrityError

from rating import clock
from rating.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import Application, ApplicationStatus, EmailKind, ExpertAssignment, Jurisdiction, Role, Stage, User
from rating.platform import audit, outbox
from rating.services.reference import edition_of_batch
from rating.services.review.routing import stage_owner
from rating.permissions import conflicted, is_official

EXPERT_STAGES = (Stage.city, Stage.province)


def _current(application: Application):
    return (ExpertAssignment.application_id == application.id,
            ExpertAssignment.round == application.submission_round,
            ExpertAssignment.stage == application.stage)


def assigned(application: Application) -> list[ExpertAssignment]:
    if application.stage is None:
        return []
    return list(db.session.execute(
        select(ExpertAssignment).where(*_current(application)).order_by(ExpertAssignment.id)
    ).scalars())


def assign(official: User, application: Application, expert_ids: list[int] | None = None,
           count: int | None = None) -> list[ExpertAssignment]:
    """Assign the named experts, or the `count` least-loaded eligible experts of the stage's jurisdiction."""
    if not is_official(official):
        raise Forbidden(_("只有主管部门人员可以指派专家。"))
    if application.status != ApplicationStatus.in_review or application.stage not in EXPERT_STAGES:
        raise Conflict(_("只有处于设区市或省评审阶段的申报可以指派专家。"))
    owner = stage_owner(application)
    if official.jurisdiction is not None and not official.jurisdiction.contains(db.session.get(Jurisdiction, owner)):
        raise NotFound(_("未找到该申报。"))
    existing = {a.expert_id for a in assigned(application)}
    eligible = (User.role == Role.expert, User.active.is_(True), User.jurisdiction_code == owner,
                ~conflicted(User.id, application))
    if expert_ids:
        chosen = list(db.session.execute(select(User.id).where(User.id.in_(expert_ids), *eligible)).scalars())
        wrong = sorted(set(expert_ids) - set(chosen))
        if wrong:
            raise ValidationFailed(_("以下人员不是本阶段可指派的专家（或存在利益冲突）：%(ids)s。",
                                     ids="、".join(str(i) for i in wrong)), {"expert_ids": [_("专家不正确。")]})
    else:
        count = count or current_app.config["EXPERTS_PER_APPLICATION"]
        open_work = func.sum(case((ExpertAssignment.submitted_at.is_(None) & ExpertAssignment.id.isnot(None), 1),
                                  else_=0))
        chosen = list(db.session.execute(
            select(User.id).outerjoin(ExpertAssignment, ExpertAssignment.expert_id == User.id)
            .where(*eligible, User.id.notin_(existing) if existing else true())
            .group_by(User.id).order_by(open_work, User.id).limit(count)
        ).scalars())
        if len(chosen) < count:
            raise ValidationFailed(_("本阶段可指派的专家只有 %(n)s 位，不足 %(count)s 位。", n=len(chosen), count=count),
                                   {"count": [_("专家人数不足。")]})
    now, created = clock.now(), []
    for expert_id in chosen:
        if expert_id in existing:
            continue
        item = ExpertAssignment(application_id=application.id, round=application.submission_round,
                                stage=application.stage, expert_id=expert_id, assigned_by_id=official.id,
                                assigned_at=now)
        db.session.add(item)
        created.append(item)
    try:
        db.session.flush()
    except IntegrityError:
        raise Conflict(_("专家已被他人指派，请刷新后查看。"))
    for item in created:
        audit.append("expert.assign", "application", application.id, official.id, expert_id=item.expert_id,
                     stage=item.stage, round=item.round)
        outbox.queue_reviewer(EmailKind.assigned, item.expert_id, application.id, now + _expert_due(application))
    return assigned(application)


def can_assign(user: User, application: Application) -> bool:
    """Whether `user` may assign experts to the application's current stage (for showing the form)."""
    if not is_official(user):
        return False
    if application.status != ApplicationStatus.in_review or application.stage not in EXPERT_STAGES:
        return False
    return user.jurisdiction is None or user.jurisdiction.contains(
        db.session.get(Jurisdiction, stage_owner(application)))


def awaits_scores(user: User, application: Application) -> bool:
    """Whether `user` is an assigned expert who has not scored this stage yet."""
    if not user.is_authenticated or user.role != Role.expert or application.status != ApplicationStatus.in_review:
        return False
    return any(a.expert_id == user.id and a.submitted_at is None for a in assigned(application))


def _expert_due(application: Application):
    return timedelta(days=application.batch.review_days(application.stage))


def submit_scores(expert: User, application: Application, scores: dict[str, Decimal], comment: str | None
                  ) -> ExpertAssignment:
    mine = next((a for a in assigned(application) if a.expert_id == expert.id), None)
    if mine is None or application.status != ApplicationStatus.in_review:
        raise NotFound(_("您没有该申报的评审任务。"))
    if mine.submitted_at is not None:
        raise Conflict(_("您已提交评分，不能重复提交。"))
    maxima = _maxima(application)
    fields = {}
    for code, points in scores.items():
        if code not in maxima:
            fields[f"scores.{code}"] = [_("该指标不在本申报的评分中。")]
        elif not Decimal(0) <= points <= maxima[code]:
            fields[f"scores.{code}"] = [_("分数应在 0 到 %(max)s 之间。", max=maxima[code])]
    for code in maxima:
        if code not in scores:
            fields[f"scores.{code}"] = [_("请为该指标评分。")]
    if fields:
        raise ValidationFailed(_("专家评分有误，请检查标出的指标。"), fields)
    mine.scores = {code: str(points) for code, points in scores.items()}
    mine.comment = (comment or "").strip() or None
    mine.submitted_at = clock.now()
    audit.append("expert.score", "application", application.id, expert.id, stage=mine.stage, round=mine.round,
                 scores=mine.scores, comment=mine.comment)
    db.session.flush()
    return mine


def _maxima(application: Application) -> dict[str, Decimal]:
    current = application.current_score
    if current is None:
        return {}
    return {item["code"]: Decimal(str(item["max"])) for item in current.detail["items"]}


@dataclass(frozen=True)
class IndicatorSummary:
    code: str
    title: str
    max: Decimal
    scores: tuple[Decimal, ...]
    mean: Decimal | None
    spread: Decimal | None
    disagree: bool


def summary(application: Application) -> dict:
    items = assigned(application)
    done = [a for a in items if a.submitted_at is not None]
    maxima = _maxima(application)
    titles = {i.code: i.title for i in edition_of_batch(application.batch.edition_code).indicators}
    margin = Decimal(str(current_app.config["EXPERT_DISAGREEMENT_SHARE"]))
    indicators = []
    for code, maximum in maxima.items():
        scores = tuple(Decimal(a.scores[code]) for a in done if code in a.scores)
        mean = (sum(scores) / len(scores)).quantize(Decimal("0.01")) if scores else None
        spread = (max(scores) - min(scores)) if scores else None
        indicators.append(IndicatorSummary(code, titles.get(code, code), maximum, scores, mean, spread,
                                           bool(spread is not None and spread > margin * maximum)))
    return {"assigned": len(items), "submitted": len(done), "experts": items, "indicators": indicators}


def missing_before_approval(application: Application) -> int:
    """How many assigned experts have not scored yet (0 where none were assigned)."""
    return sum(1 for a in assigned(application) if a.submitted_at is None)


def queue(expert: User) -> list[ExpertAssignment]:
    return list(db.session.execute(
        select(ExpertAssignment).join(Application, Application.id == ExpertAssignment.application_id)
        .where(ExpertAssignment.expert_id == expert.id, ExpertAssignment.submitted_at.is_(None),
               Application.status == ApplicationStatus.in_review,
               Application.stage == ExpertAssignment.stage, Application.submission_round == ExpertAssignment.round)
        .order_by(ExpertAssignment.assigned_at)
    ).scalars())
