"""Filing through the API: the same form classes and services as the HTML pages."""
from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from forms.application import application_form_class
from forms.jsondata import application_formdata, flatten_errors
from rating.errors import Forbidden, ValidationFailed
from rating.extensions import db
from rating.models import Application, ApplicationStatus, EmailKind, Role, Stage
from rating.permissions import can_edit_application, is_firm_user
from rating import clock
from rating.services.filing import applications as filing
from rating.services.filing import lookups
from rating.platform import outbox
from rating.services.reference import get_batch, edition_of_batch
from rating.views.api import api_user, bp, json_body, request_json, token_required
from rating.views.api.serialize import application_json, evidence_json, summary_json
from rating.views.common import input_from_form, visible_application

PAGE_SIZE = 50


def _validated_input(edition, body: dict):
    multi = frozenset(i.code for i in edition.indicators if i.type == "multi_choice")
    formdata, codes, services_given = application_formdata(body, multi)
    form = application_form_class(edition)(formdata=formdata, meta={"csrf": False})
    if not form.validate():
        raise ValidationFailed(_("提交的数据有误，请检查标出的项目。"), flatten_errors(form.errors))
    return input_from_form(form, codes, services_given)


def _editable(application_id: int) -> Application:
    application = visible_application(api_user(), application_id)
    if not can_edit_application(api_user(), application):
        raise Forbidden(_("只有申报企业本身可以修改申报。"))
    return application


@bp.post("/applications")
@token_required(Role.enterprise)
def create_application():
    body = json_body()
    batch_id = body.get("batch_id")
    if not isinstance(batch_id, int) or isinstance(batch_id, bool):
        raise ValidationFailed(_("请选择申报批次。"), {"batch_id": [_("申报批次不存在。")]})
    if not isinstance(body.get("target_level"), int) or isinstance(body.get("target_level"), bool):
        raise ValidationFailed(_("请选择申报星级。"), {"target_level": [_("请选择申报星级。")]})
    batch = get_batch(batch_id)
    data = _validated_input(edition_of_batch(batch.edition_code), body)
    data.batch_id = batch.id
    outcome = filing.create_application(api_user(), data)
    db.session.commit()
    return application_json(outcome.application, firm=True), 201


@bp.patch("/applications/<int:application_id>")
@token_required(Role.enterprise)
def update_application(application_id: int):
    application = _editable(application_id)
    body = json_body()
    data = _validated_input(edition_of_batch(application.batch.edition_code), body)
    outcome = filing.update_application(api_user(), application, data)
    db.session.commit()
    return application_json(outcome.application, firm=True)


@bp.post("/applications/<int:application_id>/evidence")
@token_required(Role.enterprise)
def upload_evidence(application_id: int):
    application = _editable(application_id)
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed(_("请选择要上传的文件。"), {"file": [_("请选择要上传的文件。")]})
    evidence = filing.add_evidence(api_user(), application, upload.stream, upload.filename,
                                   request.form.get("indicator_code") or None)
    db.session.commit()
    return evidence_json(evidence), 201


@bp.post("/applications/<int:application_id>/submit")
@token_required(Role.enterprise)
def submit_application(application_id: int):
    application = _editable(application_id)
    body = json_body()
    version = body.get("version")
    outcome = filing.submit_application(
        api_user(), application, body.get("pledge") is True,
        expected_version=version if isinstance(version, int) else None,
    )
    # Read before the commit: the firm must not be told to retry a submission that went
    # through because the database stopped answering right after it.
    answer = {"id": outcome.application.id, "status": outcome.application.status,
              "version": outcome.application.version}
    db.session.commit()
    return answer, 202


@bp.post("/applications/<int:application_id>/withdraw")
@token_required(Role.enterprise)
def withdraw_application(application_id: int):
    application = _editable(application_id)
    body = request_json() or {}
    comment = body.get("comment") if isinstance(body, dict) and isinstance(body.get("comment"), str) else None
    outcome = filing.withdraw_application(api_user(), application, comment)
    db.session.commit()
    return {"id": outcome.application.id, "status": outcome.application.status}


@bp.get("/applications/<int:application_id>")
@token_required()
def get_application(application_id: int):
    user = api_user()
    return application_json(visible_application(user, application_id), firm=is_firm_user(user))


@bp.get("/applications")
@token_required()
def list_applications():
    status = request.args.get("status") or None
    stage = request.args.get("stage") or None
    fields = {}
    if status and status not in ApplicationStatus.values():
        fields["status"] = [_("状态不正确。")]
    if stage and stage not in Stage.values():
        fields["stage"] = [_("审核阶段不正确。")]
    page = request.args.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 100_000:
        fields["page"] = [_("页码必须是正整数。")]
    if fields:
        raise ValidationFailed(_("查询参数有误。"), fields)
    rows, total = lookups.page_of_applications(api_user(), status, stage, int(page), PAGE_SIZE)
    return {"items": [summary_json(a) for a in rows], "total": total, "page": int(page)}


@bp.get("/applications/<int:application_id>/emails")
@token_required()
def application_emails(application_id: int):
    """The email log of one application: what was sent to whom, and whether it went out."""
    application = visible_application(api_user(), application_id)
    return [
        {"id": m.id, "kind": m.kind, "to": m.to_address, "subject": m.subject, "status": m.status,
         "attempts": m.attempts, "created_at": clock.local(m.created_at).isoformat(),
         "sent_at": clock.local(m.sent_at).isoformat() if m.sent_at else None}
        for m in outbox.log_for(application.id)
        # A firm sees what was sent to it, not the reviewers' mail.
        if not is_firm_user(api_user()) or m.kind == EmailKind.status_changed
    ]
