"""Review through the API: the caller's queue and stage decisions."""
from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from forms.jsondata import flat_formdata, flatten_errors, strict_scalar
from forms.review import DecisionForm, ExpertScoresForm
from rating import clock
from rating.errors import ValidationFailed
from rating.extensions import db
from rating.readonly import read_only
from rating.models import Role
from rating.services.filing import snapshots
from rating.services.review import assignments, experts, reviews
from rating.views.api import api_user, bp, json_body, level_arg, token_required
from rating.views.common import valid_id, visible_application
from rating.permissions import OFFICIALS, QUEUE_HOLDERS, STAFF, staff_scope


def decision_formdata(body: dict) -> MultiDict:
    data = flat_formdata(body, ("decision", "comment", "version"))
    adjustments = body.get("adjustments") or []
    if not isinstance(adjustments, list) or not all(isinstance(a, dict) for a in adjustments):
        raise ValidationFailed(_("提交的数据有误。"), {"adjustments": [_("adjustments 必须是对象数组。")]})
    for index, item in enumerate(adjustments):
        for key in ("code", "points", "reason"):
            data.add(f"adjustments-{index}-{key}", "" if item.get(key) is None else strict_scalar(item[key]))
    return data


@bp.post("/applications/<int:application_id>/decisions")
@token_required(*STAFF)
def decide(application_id: int):
    application = visible_application(api_user(), application_id)
    form = DecisionForm(formdata=decision_formdata(json_body()), meta={"csrf": False})
    if not form.validate():
        raise ValidationFailed(_("提交的数据有误，请检查标出的项目。"), flatten_errors(form.errors))
    adjustments = [reviews.Adjustment(e.form.code.data, e.form.points.data, e.form.reason.data)
                   for e in form.adjustments.entries]
    application = reviews.decide(api_user(), application, form.decision.data, form.comment.data,
                                 form.version.data, adjustments)
    # Read before the commit: the answer to a decision made must not depend on the
    # database still answering afterwards.
    answer = {"status": application.status, "stage": application.stage, "version": application.version}
    db.session.commit()
    return answer, 201


@bp.get("/reviews/queue")
@read_only
@token_required(*STAFF)
def review_queue():
    level = level_arg()
    flag = request.args.get("overdue") or "0"
    if flag not in ("1", "true", "0", "false"):
        message = _("查询参数 %(name)s 不正确。", name="overdue")
        raise ValidationFailed(message, {"overdue": [message]})
    overdue = flag in ("1", "true")
    return [queue_item_json(item) for item in reviews.queue(api_user(), level=level, overdue=overdue)]


def queue_item_json(item: reviews.QueueItem) -> dict:
    return {
        "application_id": item.application_id,
        "enterprise_name": item.enterprise_name,
        "target_level": item.target_level,
        "stage": item.stage,
        "assigned_at": clock.local(item.assigned_at).isoformat() if item.assigned_at else None,
        "due_at": clock.local(item.due_at).isoformat() if item.due_at else None,
        "reviewer_id": item.reviewer_id,
        "overdue": bool(item.due_at and item.due_at <= clock.now()),
        "version": item.version,
    }


@bp.get("/reviews/overview")
@token_required(*OFFICIALS)
def review_overview():
    """Per jurisdiction and stage: in review, unassigned (no eligible reviewer), overdue."""
    return {"rows": assignments.overview(staff_scope(api_user()))}


@bp.post("/applications/<int:application_id>/assignment")
@token_required(*OFFICIALS)
def reassign(application_id: int):
    application = visible_application(api_user(), application_id)
    body = json_body()
    reviewer_id = body.get("reviewer_id")
    if not valid_id(reviewer_id):
        raise ValidationFailed(_("请指定审核人员。"), {"reviewer_id": [_("审核人员不正确。")]})
    reason = body.get("reason")
    assignment = assignments.reassign(api_user(), application, reviewer_id,
                                      reason if isinstance(reason, str) else "")
    db.session.commit()
    return {"application_id": application.id, "reviewer_id": assignment.reviewer_id,
            "assigned_at": clock.local(assignment.assigned_at).isoformat(),
            "due_at": clock.local(assignment.due_at).isoformat()}, 201


@bp.post("/reviewer-conflicts")
@token_required(*QUEUE_HOLDERS)
def declare_conflict():
    body = json_body()
    enterprise_id = body.get("enterprise_id")
    if enterprise_id is not None and not valid_id(enterprise_id):
        raise ValidationFailed(_("企业不存在。"), {"enterprise_id": [_("企业不存在。")]})
    texts = {key: body.get(key) if isinstance(body.get(key), str) else None
             for key in ("group_name", "provider_name", "note")}
    conflict = assignments.declare_conflict(api_user(), enterprise_id, texts["group_name"],
                                            texts["provider_name"], texts["note"])
    db.session.commit()
    return {"id": conflict.id}, 201


@bp.post("/applications/<int:application_id>/experts")
@token_required(*OFFICIALS)
def assign_experts(application_id: int):
    application = visible_application(api_user(), application_id)
    body = json_body()
    expert_ids, count = body.get("expert_ids"), body.get("count")
    if expert_ids is not None and (not isinstance(expert_ids, list) or not all(valid_id(i) for i in expert_ids)):
        raise ValidationFailed(_("专家编号有误。"), {"expert_ids": [_("expert_ids 必须是编号数组。")]})
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 20):
        raise ValidationFailed(_("专家人数应在 1 到 20 之间。"), {"count": [_("专家人数应在 1 到 20 之间。")]})
    items = experts.assign(api_user(), application, expert_ids or None, count)
    db.session.commit()
    return {"application_id": application.id, "experts": [i.expert_id for i in items]}, 201


@bp.post("/applications/<int:application_id>/expert-scores")
@token_required(Role.expert)
def submit_expert_scores(application_id: int):
    application = visible_application(api_user(), application_id)
    body = json_body()
    raw = body.get("scores")
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ValidationFailed(_("提交的数据有误。"), {"scores": [_("scores 必须是对象数组。")]})
    data = MultiDict()
    for index, item in enumerate(raw):
        for key in ("code", "points"):
            data.add(f"scores-{index}-{key}", "" if item.get(key) is None else strict_scalar(item[key]))
    if isinstance(body.get("comment"), str):
        data.add("comment", body["comment"])
    form = ExpertScoresForm(formdata=data, meta={"csrf": False})
    if not form.validate():
        raise ValidationFailed(_("提交的数据有误，请检查标出的项目。"), flatten_errors(form.errors))
    scores = {entry.form.code.data: entry.form.points.data for entry in form.scores.entries}
    item = experts.submit_scores(api_user(), application, scores, form.comment.data)
    db.session.commit()
    return {"application_id": application.id, "submitted_at": clock.local(item.submitted_at).isoformat()}, 201


@bp.get("/applications/<int:application_id>/expert-review")
@token_required(*STAFF)
def expert_review(application_id: int):
    application = visible_application(api_user(), application_id)
    result = experts.summary(application)
    return {
        "assigned": result["assigned"],
        "submitted": result["submitted"],
        "experts": [{"expert_id": a.expert_id, "submitted": a.submitted_at is not None} for a in result["experts"]],
        "indicators": [
            {"code": i.code, "title": i.title, "max": float(i.max), "scores": [float(s) for s in i.scores],
             "mean": float(i.mean) if i.mean is not None else None,
             "spread": float(i.spread) if i.spread is not None else None, "disagree": i.disagree}
            for i in result["indicators"]
        ],
    }


@bp.get("/applications/<int:application_id>/diff")
@token_required()
def submission_diff(application_id: int):
    """What the current round changed against the round before it (the one a reviewer returned)."""
    application = visible_application(api_user(), application_id)
    return snapshots.diff(application) or {"from_round": None, "to_round": application.submission_round,
                                           "answers": [], "services": {"added": [], "removed": []},
                                           "evidence": {"added": [], "removed": []}}
