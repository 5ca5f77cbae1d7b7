"""The audit log's pages: officials browse the entries about objects in their scope, admins all;
open an entry with its data, export the filtered list, see how far the chain verifies."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, render_template, request, stream_with_context
from flask_login import current_user, login_required

from rating import clock
from rating.errors import ValidationFailed
from rating.extensions import db
from rating.permissions import is_official
from rating.services import audit_log

bp = Blueprint("audit", __name__, url_prefix="/audit")
FILTERS = ("actor", "action", "object_type", "object_id", "since", "until")


def _filters() -> tuple[audit_log.Filters | None, dict]:
    """The filters (None when one is bad: flashed, nothing listed) and their raw values."""
    raw = {key: (request.args.get(key) or "").strip() for key in FILTERS}
    try:
        return audit_log.parse_filters(request.args), raw
    except ValidationFailed as exc:
        for messages in (exc.fields or {"": [exc.message]}).values():
            flash(str(messages[0]), "error")
        return None, raw


@bp.get("/")
@login_required
def index():
    if not is_official(current_user):
        abort(403)
    filters, raw = _filters()
    page = request.args.get("page", 1, type=int)
    result = audit_log.browse(current_user, filters or audit_log.Filters(), page) if filters else None
    db.session.commit()     # how far the chain was verified, for the next look
    return render_template("audit/index.html", result=result, raw=raw,
                           query={k: v for k, v in raw.items() if v}, cap=audit_log.TOTAL_CAP,
                           per_page=audit_log.PER_PAGE, max_page=audit_log.MAX_PAGE)


@bp.get("/<int:seq>")
@login_required
def show(seq: int):
    if not is_official(current_user):
        abort(403)
    item = audit_log.entry(current_user, seq) if seq < 2 ** 62 else None
    if item is None:
        abort(404)
    return render_template("audit/show.html", item=item,
                           data=json.dumps(item["data"], ensure_ascii=False, indent=2, sort_keys=True))


@bp.get("/export.csv")
@login_required
def export():
    if not is_official(current_user):
        abort(403)
    filters = audit_log.parse_filters(request.args)
    name = f"audit-{clock.today():%Y%m%d}.csv"
    return Response(stream_with_context(audit_log.csv_chunks(current_user, filters)),
                    headers={"Content-Disposition": f"attachment; filename={name}",
                             "Content-Type": "text/csv; charset=utf-8"})
