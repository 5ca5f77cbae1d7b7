"""Declared conflicts of interest through the API: read back and withdrawn (declared in reviews)."""
from __future__ import annotations

from rating import clock
from rating.extensions import db
from rating.permissions import QUEUE_HOLDERS, STAFF
from rating.services.review import conflicts
from rating.views.api import api_user, bp, token_required


def conflict_json(item: conflicts.Declared) -> dict:
    return {"id": item.id, "reviewer_id": item.reviewer_id, "reviewer_name": item.reviewer_name,
            "enterprise_id": item.enterprise_id, "enterprise_name": item.enterprise_name, "uscc": item.uscc,
            "group_name": item.group_name, "provider_name": item.provider_name, "note": item.note,
            "declared_at": clock.local(item.declared_at).isoformat()}


@bp.get("/reviewer-conflicts")
@token_required(*STAFF)
def list_conflicts():
    return [conflict_json(item) for item in conflicts.visible(api_user())]


@bp.delete("/reviewer-conflicts/<int:conflict_id>")
@token_required(*QUEUE_HOLDERS)
def withdraw_conflict(conflict_id: int):
    conflicts.withdraw(api_user(), conflict_id)
    db.session.commit()
    return "", 204
