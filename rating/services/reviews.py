"""Review stages: who decides what at the county, city and province stages.

Which stage has the final say for a level comes from the guide edition (`final_stage`):
before it a stage forwards, at it a stage approves. Every decision is a conditional
UPDATE on the version the reviewer saw, so of two people deciding at once exactly one
wins and the other is told the application changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select, update

from rating import clock
from rating.errors import Conflict, Forbidden, ValidationFailed
from rating.extensions import db
from rating.models import (
    Application,
    ApplicationStatus,
    Enterprise,
    Jurisdiction,
    JurisdictionLevel,
    Role,
    ScoreAdjustment,
    Stage,
    StatusChange,
    User,
)
from rating.services.reference import get_edition

STAGE_ORDER = (Stage.county, Stage.city, Stage.province)
STAGE_LEVEL = {Stage.county: JurisdictionLevel.county, Stage.city: JurisdictionLevel.city,
               Stage.province: JurisdictionLevel.province}
DECISIONS = ("forward", "approve", "return", "reject")


@dataclass(frozen=True)
class Adjustment:
    code: str
    points: Decimal
    reason: str


def allowed_decisions(application: Application) -> tuple[str, ...]:
    """What the stage the application is at may decide, from the edition's final stage."""
    if application.status != ApplicationStatus.in_review or application.stage is None:
        return ()
    final = get_edition(application.batch.edition_code).levels[application.target_level].final_stage
    if application.stage == final:
        return ("approve", "return", "reject")
    if STAGE_ORDER.index(application.stage) < STAGE_ORDER.index(final):
        return ("forward", "return", "reject")
    return ("return", "reject")


def next_stage(stage: str) -> str:
    return STAGE_ORDER[STAGE_ORDER.index(stage) + 1]


def can_review(user: User, application: Application) -> bool:
    """A reviewer of the jurisdiction that owns the application's current stage."""
    if not user.is_authenticated or user.role != Role.reviewer or application.stage is None:
        return False
    scope = user.jurisdiction
    return (scope is not None and scope.level == STAGE_LEVEL[application.stage]
            and scope.contains(application.enterprise.district))


def decide(user: User, application: Application, decision: str, comment: str | None, version: int | None,
           adjustments: list[Adjustment] = ()) -> Application:
    if version is None:
        raise ValidationFailed(_("缺少版本号。"), {"version": [_("请提供查看申报时的版本号。")]})
    if version != application.version:
        # Checked first: whoever lost a race learns that, not that the stage moved on.
        raise Conflict(_("该申报已被他人处理或修改，请刷新后查看最新状态。"), {"version": [_("版本已过期。")]})
    if not can_review(user, application):
        raise Forbidden(_("只有当前审核阶段所属地区的审核人员可以作出决定。"))
    if decision not in DECISIONS:
        raise ValidationFailed(_("决定类型不正确。"), {"decision": [_("应为 forward、approve、return 或 reject。")]})
    allowed = allowed_decisions(application)
    if decision not in allowed:
        raise ValidationFailed(
            _("%(stage)s阶段不能作出该决定（可选：%(allowed)s）。", stage=Stage(application.stage).label,
              allowed="、".join(allowed)),
            {"decision": [_("当前阶段不允许该决定。")]},
        )
    comment = (comment or "").strip()
    if decision in ("return", "reject") and not comment:
        raise ValidationFailed(_("退回或不通过时必须填写意见。"), {"comment": [_("请填写意见。")]})
    _check_adjustments(application, adjustments)
    from_status, from_stage = application.status, application.stage
    if decision == "forward":
        status, stage = ApplicationStatus.in_review, next_stage(application.stage)
    elif decision == "approve":
        status, stage = ApplicationStatus.approved, None
    elif decision == "return":
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
        db.session.rollback()
        raise Conflict(_("该申报已被他人处理或修改，请刷新后查看最新状态。"), {"version": [_("版本已过期。")]})
    for item in adjustments:
        db.session.add(ScoreAdjustment(application_id=application.id, round=application.submission_round,
                                       stage=from_stage, indicator_code=item.code, points=item.points,
                                       reason=item.reason, actor_id=user.id))
    db.session.add(StatusChange(application_id=application.id, actor_id=user.id, action=decision,
                                from_status=from_status, to_status=status, from_stage=from_stage,
                                to_stage=stage, comment=comment or None))
    db.session.commit()
    db.session.refresh(application)
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


def queue(user: User) -> list[Application]:
    """In-review applications at the stage the reviewer's jurisdiction owns, inside it."""
    if user.role != Role.reviewer or user.jurisdiction is None:
        return []
    scope = user.jurisdiction
    stage = {v: k for k, v in STAGE_LEVEL.items()}[scope.level]
    query = (
        select(Application)
        .join(Enterprise, Enterprise.id == Application.enterprise_id)
        .join(Jurisdiction, Jurisdiction.code == Enterprise.district_code)
        .where(Application.status == ApplicationStatus.in_review, Application.stage == stage)
        .order_by(Application.updated_at)
    )
    if scope.level == JurisdictionLevel.province:
        query = query.where(Jurisdiction.province_code == scope.code)
    elif scope.level == JurisdictionLevel.city:
        query = query.where(Jurisdiction.city_code == scope.code)
    else:
        query = query.where(Enterprise.district_code == scope.code)
    return list(db.session.execute(query).scalars())


def entered_stage_at(application: Application):
    for change in reversed(application.history):
        if change.to_stage == application.stage and change.to_status == ApplicationStatus.in_review:
            return change.at
    return application.updated_at
