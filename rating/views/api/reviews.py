"""Review through the API: the caller's queue and stage decisions."""
from __future__ import annotations

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from forms.fields import INVALID
from forms.jsondata import flatten_errors
from forms.review import DecisionForm
from rating import clock
from rating.errors import ValidationFailed
from rating.models import Role
from rating.services import reviews
from rating.views.api import api_user, bp, json_body, token_required
from rating.views.common import visible_application


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
    return {"status": application.status, "stage": application.stage, "version": application.version}, 201


@bp.get("/reviews/queue")
@token_required(Role.reviewer, Role.official, Role.expert, Role.admin)
def review_queue():
    return [
        {
            "application_id": a.id,
            "enterprise_name": a.enterprise.name,
            "target_level": a.target_level,
            "stage": a.stage,
            "assigned_at": clock.local(reviews.entered_stage_at(a)).isoformat(),
            "due_at": None,
            "version": a.version,
        }
        for a in reviews.queue(api_user())
    ]
