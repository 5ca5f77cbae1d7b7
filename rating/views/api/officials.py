"""Officials through the API: blacklist and approval quotas."""
from __future__ import annotations

from flask import request

from forms.jsondata import flat_formdata, validated
from forms.officials import BatchChoiceForm, BlacklistForm, LiftForm, QuotaForm
from rating import clock
from rating.extensions import db
from rating.services.review import blacklist, quotas
from rating.views.api import api_user, bp, json_body, token_required
from rating.permissions import OFFICIALS


def entry_json(entry) -> dict:
    return {"id": entry.id, "enterprise_id": entry.enterprise_id,
            "enterprise_name": entry.enterprise.name if entry.enterprise else None,
            "provider_name": entry.provider_name, "reason": entry.reason,
            "created_at": clock.local(entry.created_at).isoformat(),
            "lifted_at": clock.local(entry.lifted_at).isoformat() if entry.lifted_at else None}


@bp.get("/blacklist")
@token_required(*OFFICIALS)
def list_blacklist():
    return [entry_json(e) for e in blacklist.active_entries(api_user())]


@bp.post("/blacklist")
@token_required(*OFFICIALS)
def add_to_blacklist():
    form = validated(BlacklistForm(formdata=flat_formdata(json_body(), ("enterprise_id", "provider_name", "reason")),
                                    meta={"csrf": False}))
    entry, flagged = blacklist.add(api_user(), form.reason.data, form.enterprise_id.data, form.provider_name.data)
    db.session.commit()
    return {**entry_json(entry), "flagged_applications": flagged}, 201


@bp.post("/blacklist/<int:entry_id>/lift")
@token_required(*OFFICIALS)
def lift_blacklist(entry_id: int):
    form = validated(LiftForm(formdata=flat_formdata(json_body(), ("reason",)), meta={"csrf": False}))
    entry = blacklist.lift(api_user(), entry_id, form.reason.data)
    db.session.commit()
    return entry_json(entry)


def quota_json(quota) -> dict:
    return {"batch_id": quota.batch_id, "district_code": quota.district_code, "level": quota.level,
            "max_count": quota.max_count, "percent": float(quota.percent) if quota.percent is not None else None,
            "base_count": quota.base_count, "base_source": quota.base_source, "cap": quota.cap}


@bp.get("/batch-quotas")
@token_required(*OFFICIALS)
def list_quotas():
    form = validated(BatchChoiceForm(formdata=request.args, meta={"csrf": False}))
    return [{"batch_id": row.quota.batch_id, "district_code": row.quota.district_code, "level": row.quota.level,
             "cap": row.quota.cap, "used": row.used, "remaining": row.remaining}
            for row in quotas.quotas_of(api_user(), form.batch_id.data)]


@bp.post("/batch-quotas")
@token_required(*OFFICIALS)
def set_quota():
    keys = ("batch_id", "district_code", "level", "max_count", "percent", "base_count", "base_source")
    form = validated(QuotaForm(formdata=flat_formdata(json_body(), keys), meta={"csrf": False}))
    quota = quotas.set_quota(api_user(), form.batch_id.data, form.district_code.data, form.level.data,
                             form.max_count.data, form.percent.data, form.base_count.data,
                             form.base_source.data or "typed")
    db.session.commit()
    return quota_json(quota), 201
