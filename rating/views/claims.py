"""Claims of imported firms (HTML): the county's officials confirm or refuse them."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from forms.claims import ClaimDecisionForm
from rating.errors import ServiceError
from rating.extensions import db
from rating.models import ClaimStatus
from rating.models.enums import INDUSTRY_SECTIONS
from rating.services import reference
from rating.services.accounts import claims
from rating.views.common import official_required

bp = Blueprint("claims", __name__, url_prefix="/enterprise-claims")



def _form(claim_id: int) -> ClaimDecisionForm:
    # One form per claim on the page: the prefix keeps their fields' ids apart. Its token is
    # the page's `csrf_token`, which the app-wide CSRFProtect checks on every post.
    return ClaimDecisionForm(prefix=f"claim-{claim_id}", meta={"csrf": False})


@bp.get("/")
@official_required
def index():
    status = request.args.get("status") or None
    if status not in (None, *ClaimStatus.values()):
        status = None
    rows = claims.visible_claims(current_user, status)
    return render_template("claims/index.html", claims=rows, status=status, statuses=list(ClaimStatus),
                           forms={c.id: _form(c.id) for c in rows if c.status == ClaimStatus.pending},
                           ratings=claims.ratings_of_firms({c.enterprise_id for c in rows}),
                           districts={c.code: c.name for c in reference.counties()},
                           industries=INDUSTRY_SECTIONS)


@bp.post("/<int:claim_id>")
@official_required
def decide(claim_id: int):
    claim = claims.visible_claim(current_user, claim_id)
    form = _form(claim.id)
    if not form.validate_on_submit() or form.approve.data == form.reject.data:
        for message in form.comment.errors:
            flash(message, "error")
        if not form.comment.errors:
            flash(_("请选择“确认认领”或“不予确认”。"), "error")
        return redirect(url_for(".index"))
    try:
        if form.approve.data:
            claims.approve(current_user, claim.id, form.comment.data)
            db.session.commit()
            flash(_("已确认认领：%(name)s 的企业信息已更新，申请人现在可以查看该企业的认定。", name=claim.name), "success")
        else:
            claims.reject(current_user, claim.id, form.comment.data)
            db.session.commit()
            flash(_("已不予确认该认领，申请人账户已停用。"), "success")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(url_for(".index"))
