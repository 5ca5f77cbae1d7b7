"""Publicity notices through the API: create, read (public), object (public), resolve, close."""
from __future__ import annotations

from flask import request

from forms.jsondata import flat_formdata, validated
from forms.publicity import NoticeForm, ObjectionForm, ResolveForm
from rating import clock
from rating.extensions import db, limiter
from rating.models import EntryOutcome
from rating.services.publicity import publicity
from rating.views.api import api_user, bp, json_body, token_required
from rating.views.common import public_url
from rating.permissions import OFFICIALS, can_manage_notice


def notice_json(notice, manager: bool = False) -> dict:
    body = {
        "id": notice.id,
        "title": notice.title,
        "jurisdiction_code": notice.jurisdiction_code,
        "starts_on": notice.starts_on.isoformat(),
        "ends_on": notice.ends_on.isoformat(),
        "status": notice.status,
        "url": public_url("publicity.show", notice_id=notice.id),
        "entries": [
            {"application_id": e.application_id, "enterprise_name": e.application.enterprise.name,
             "uscc": publicity.mask_uscc(e.application.enterprise.uscc), "level": e.level,
             "district_code": e.application.enterprise.district_code,
             "district_name": e.application.enterprise.district.name, "outcome": e.outcome}
            for e in notice.entries if e.outcome != EntryOutcome.removed or manager
        ],
    }
    if manager:
        body["objections"] = [
            {"id": o.id, "application_id": e.application_id, "name": o.name, "contact": o.contact,
             "reason": o.reason, "submitted_at": clock.local(o.submitted_at).isoformat(), "status": o.status,
             "resolution": o.resolution}
            for e in notice.entries for o in e.objections
        ]
    return body


@bp.post("/publicity-notices")
@token_required(*OFFICIALS)
def create_notice():
    form = validated(NoticeForm(formdata=flat_formdata(json_body(), ("title", "starts_on", "ends_on"),
                                                    ("application_ids",)), meta={"csrf": False}))
    notice = publicity.create_notice(api_user(), form.title.data, form.application_ids.data, form.starts_on.data,
                                     form.ends_on.data)
    db.session.commit()
    return {"id": notice.id, "url": public_url("publicity.show", notice_id=notice.id)}, 201


@bp.get("/publicity-notices/<int:notice_id>")
def show_notice(notice_id: int):
    notice = publicity.get_notice(notice_id)
    user = api_user()
    return notice_json(notice, manager=bool(user) and can_manage_notice(user, notice))


@bp.post("/publicity-notices/<int:notice_id>/objections")
@limiter.limit("20 per hour;5 per minute")
def object_to_notice(notice_id: int):
    notice = publicity.get_notice(notice_id)
    form = validated(ObjectionForm(formdata=flat_formdata(json_body(), ("application_id", "name", "contact", "reason")),
                                    meta={"csrf": False}))
    objection = publicity.submit_objection(notice, form.application_id.data, form.name.data, form.contact.data,
                                           form.reason.data, request.remote_addr)
    db.session.commit()
    return {"id": objection.id, "status": objection.status}, 201


@bp.post("/publicity-notices/<int:notice_id>/objections/<int:objection_id>/resolve")
@token_required(*OFFICIALS)
def resolve_objection(notice_id: int, objection_id: int):
    notice = publicity.managed_notice(api_user(), notice_id)
    form = validated(ResolveForm(formdata=flat_formdata(json_body(), ("outcome", "action", "comment")),
                                  meta={"csrf": False}))
    objection = publicity.resolve_objection(api_user(), notice, objection_id, form.outcome.data,
                                            form.action.data or None, form.comment.data)
    db.session.commit()
    return {"id": objection.id, "status": objection.status,
            "application_status": objection.entry.application.status}


@bp.post("/publicity-notices/<int:notice_id>/close")
@token_required(*OFFICIALS)
def close_notice(notice_id: int):
    notice = publicity.managed_notice(api_user(), notice_id)
    rated, held = publicity.close_notice(api_user(), notice)
    db.session.commit()
    return {"rated": rated, "held": held}
