"""The audit log through the API: officials the entries about objects in their scope, admins all."""
from __future__ import annotations

from flask import request

from rating.extensions import db
from rating.permissions import OFFICIALS
from rating.services import audit_log
from rating.views.api import api_user, bp, int_arg, token_required


@bp.get("/audit")
@token_required(*OFFICIALS)
def audit_entries():
    filters = audit_log.parse_filters(request.args)
    page = audit_log.browse(api_user(), filters, int_arg("page", 1, audit_log.MAX_PAGE) or 1)
    answer = {"items": page.items, "total": page.total, "page": page.page,
              "verified_through": page.verified_through}
    db.session.commit()     # how far the chain was verified, for the next look
    return answer
