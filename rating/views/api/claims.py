"""Claims of imported firms: the county's officials confirm or refuse them."""
from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from forms.claims import ClaimDecisionForm
from forms.jsondata import flat_formdata, validated
from rating import clock
from rating.errors import ValidationFailed
from rating.extensions import db
from rating.models import ClaimStatus
from rating.services.accounts import claims
from rating.views.api import api_user, bp, request_json, token_required
from rating.permissions import OFFICIALS


def claim_json(claim) -> dict:
    firm = claim.enterprise
    return {"id": claim.id, "uscc": firm.uscc, "enterprise_name": firm.name, "district_code": firm.district_code,
            "claimant_email": claim.email, "created_at": clock.local(claim.created_at).isoformat(),
            "status": claim.status,
            "claimed": {name: getattr(claim, name) for name in claims.RECORD_FIELDS},
            "decided_at": clock.local(claim.decided_at).isoformat() if claim.decided_at else None,
            "comment": claim.comment}


@bp.get("/enterprise-claims")
@token_required(*OFFICIALS)
def list_claims():
    status = request.args.get("status") or None
    if status is not None and status not in ClaimStatus.values():
        raise ValidationFailed(_("查询参数 %(name)s 不正确。", name="status"),
                               {"status": [_("应为 pending、approved 或 rejected。")]})
    return [claim_json(claim) for claim in claims.visible_claims(api_user(), status)]


def _comment() -> str | None:
    body = request_json()
    if body is None and not request.get_data(cache=True):
        return None             # the body is optional
    if not isinstance(body, dict):
        raise ValidationFailed(_("请求体必须是 JSON 对象。"))
    form = validated(ClaimDecisionForm(formdata=flat_formdata(body, ("comment",)), meta={"csrf": False}))
    return form.comment.data


@bp.post("/enterprise-claims/<int:claim_id>/approve")
@token_required(*OFFICIALS)
def approve_claim(claim_id: int):
    claims.visible_claim(api_user(), claim_id)       # 404 before reading the body
    claim = claims.approve(api_user(), claim_id, _comment())
    db.session.commit()
    return claim_json(claim)


@bp.post("/enterprise-claims/<int:claim_id>/reject")
@token_required(*OFFICIALS)
def reject_claim(claim_id: int):
    claims.visible_claim(api_user(), claim_id)
    claim = claims.reject(api_user(), claim_id, _comment())
    db.session.commit()
    return claim_json(claim)
