"""Review through the API: the caller's queue and stage decisions."""
from __future__ import annotations

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from forms.fields import INVALID
from forms.jsondata import flatten_errors
from forms.review import DecisionForm
from rating import clock
from rating.errors import ValidationFailed
from rating.models import ApplicationStatus, Role
from rating.services import reviews, routing
from rating.views.api import api_user, bp, json_body, token_required
from rating.views.common import staff_scope, valid_id, visible_application
from workers.tasks import request_routing


def _scalar(value) -> str:
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        return INVALID
    return str(value)


def decision_formdata(body: dict) -> MultiDict:
    data = MultiDict()
    for key in ("decision", "comment", "version"):
        if body.get(key) is not None:
            data.add(key, _scalar(body[key]))
    adjustments = body.get("adjustments") or []
    if not isinstance(adjustments, list) or not all(isinstance(a, dict) for a in adjustments):
        raise ValidationFailed(_("提交的数据有误。"), {"adjustments": [_("adjustments 必须是对象数组。")]})
    for index, item in enumerate(adjustments):
        for key in ("code", "points", "reason"):
            data.add(f"adjustments-{index}-{key}", "" if item.get(key) is None else _scalar(item[key]))
    return data


@bp.post("/applications/<int:application_id>/decisions")
@token_required(Role.reviewer, Role.official, Role.expert, Role.admin)
def decide(application_id: int):
    application = visible_application(api_user(), application_id)
    form = DecisionForm(formdata=decision_formdata(json_body()), meta={"csrf": False})
    if not form.validate():
        raise ValidationFailed(_("提交的数据有误，请检查标出的项目。"), flatten_errors(form.errors))
    adjustments = [reviews.Adjustment(e.form.code.data, e.form.points.data, e.form.reason.data)
                   for e in form.adjustments.entries]
    application = reviews.decide(api_user(), application, form.decision.data, form.comment.data,
                                 form.version.data, adjustments)
    if application.status == ApplicationStatus.in_review:
        request_routing(application.id)
    return {"status": application.status, "stage": application.stage, "version": application.version}, 201


@bp.get("/reviews/queue")
@token_required(Role.reviewer, Role.official, Role.expert, Role.admin)
def review_queue():
    return [queue_item_json(item) for item in reviews.queue(api_user())]


def queue_item_json(item: reviews.QueueItem) -> dict:
    application, assignment = item.application, item.assignment
    return {
        "application_id": application.id,
        "enterprise_name": application.enterprise.name,
        "target_level": application.target_level,
        "stage": application.stage,
        "assigned_at": clock.local(assignment.assigned_at).isoformat() if assignment else None,
        "due_at": clock.local(assignment.due_at).isoformat() if assignment else None,
        "reviewer_id": assignment.reviewer_id if assignment else None,
        "overdue": bool(assignment and assignment.due_at <= clock.now()),
        "version": application.version,
    }


@bp.get("/reviews/overview")
@token_required(Role.official, Role.admin)
def review_overview():
    """Per jurisdiction and stage: in review, unassigned (no eligible reviewer), overdue."""
    return {"rows": routing.overview(staff_scope(api_user()))}


@bp.post("/applications/<int:application_id>/assignment")
@token_required(Role.official, Role.admin)
def reassign(application_id: int):
    application = visible_application(api_user(), application_id)
    body = json_body()
    reviewer_id = body.get("reviewer_id")
    if not valid_id(reviewer_id):
        raise ValidationFailed(_("请指定审核人员。"), {"reviewer_id": [_("审核人员不正确。")]})
    reason = body.get("reason")
    assignment = routing.reassign(api_user(), application, reviewer_id, reason if isinstance(reason, str) else "")
    return {"application_id": application.id, "reviewer_id": assignment.reviewer_id,
            "assigned_at": clock.local(assignment.assigned_at).isoformat(),
            "due_at": clock.local(assignment.due_at).isoformat()}, 201


@bp.post("/reviewer-conflicts")
@token_required(Role.reviewer, Role.expert)
def declare_conflict():
    body = json_body()
    enterprise_id = body.get("enterprise_id")
    if enterprise_id is not None and not valid_id(enterprise_id):
        raise ValidationFailed(_("企业不存在。"), {"enterprise_id": [_("企业不存在。")]})
    texts = {key: body.get(key) if isinstance(body.get(key), str) else None
             for key in ("group_name", "provider_name", "note")}
    conflict = routing.declare_conflict(api_user(), enterprise_id, texts["group_name"], texts["provider_name"],
                                        texts["note"])
    return {"id": conflict.id}, 201
