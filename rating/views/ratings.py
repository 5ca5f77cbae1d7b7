"""Ratings pages: the firm's certificates, officials' list, revocation, regeneration, rewards."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.ratings import ConfirmForm, DisbursementForm, ImportForm, RevokeForm
from rating import clock
from rating.errors import ServiceError
from rating.extensions import db
from rating.models import RatingStatus
from rating.permissions import can_see_ratings, claim_pending, is_official
from rating.services.accounts import claims
from rating.services.ratings import ratings
from rating.services.reporting import import_rows, imports
from rating.services.reference import all_levels
from rating.views.api.ratings import certificate_response

bp = Blueprint("ratings", __name__, url_prefix="/ratings")


def _viewer():
    if not can_see_ratings(current_user):
        abort(403)


@bp.get("/")
@login_required
def index():
    _viewer()
    q = (request.args.get("q") or "").strip()[:100] or None
    levels = all_levels()
    level = request.args.get("level", type=int)
    status = request.args.get("status") or None
    if status not in (None, *RatingStatus.values()):
        status = None
    page = max(1, min(request.args.get("page", 1, type=int), 100_000))
    items, total = ratings.search(current_user, level=level if level in levels else None, status=status, q=q,
                                  page=page, per_page=50)
    return render_template("ratings/index.html", items=items, total=total, page=page, q=q or "", level=level,
                           levels=levels, status=status, today=clock.today(),
                           claim_message=claims.pending_message() if claim_pending(current_user) else None)


def _page(rating, **forms):
    forms.setdefault("revoke_form", RevokeForm())
    forms.setdefault("disbursement_form", DisbursementForm(state=rating.disbursement,
                                                           disbursed_on=rating.disbursed_on))
    return render_template("ratings/show.html", rating=rating, certificate=rating.certificate,
                           confirm_form=ConfirmForm(), today=clock.today(), **forms)


@bp.get("/<certificate_no>")
@login_required
def show(certificate_no: str):
    _viewer()
    return _page(ratings.visible(current_user, certificate_no))


@bp.get("/<certificate_no>/certificate.pdf")
@login_required
def download(certificate_no: str):
    rating = ratings.downloadable(current_user, certificate_no)
    try:
        return certificate_response(rating)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".show", certificate_no=rating.certificate_no))


def _act(certificate_no: str, action, success: str):
    """Run an official's action on the rating (committed when it succeeds), say how it went,
    and go back to its page."""
    try:
        action()
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(success, "success")
    return redirect(url_for(".show", certificate_no=certificate_no))


@bp.post("/<certificate_no>/revoke")
@login_required
def revoke(certificate_no: str):
    rating = ratings.visible(current_user, certificate_no)
    form = RevokeForm()
    if not form.validate_on_submit():
        return _page(rating, revoke_form=form), 422
    return _act(certificate_no, lambda: ratings.revoke(current_user, certificate_no, form.reason.data,
                                                       form.blacklist_enterprise.data, form.blacklist_provider.data),
                _("已撤销该认定。"))


@bp.post("/<certificate_no>/regenerate")
@login_required
def regenerate(certificate_no: str):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return _act(certificate_no, lambda: ratings.regenerate(current_user, certificate_no),
                _("已提交重新生成，新证书完成前原证书仍可下载。"))


@bp.post("/<certificate_no>/disbursement")
@login_required
def disbursement(certificate_no: str):
    rating = ratings.visible(current_user, certificate_no)
    form = DisbursementForm()
    if not form.validate_on_submit():
        return _page(rating, disbursement_form=form), 422
    return _act(certificate_no, lambda: ratings.set_disbursement(current_user, certificate_no, form.state.data,
                                                                 form.disbursed_on.data, form.note.data),
                _("奖励拨付状态已更新。"))


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_list():
    """Officials upload an existing ratings list; the report shows every bad row."""
    if not is_official(current_user):
        abort(403)
    form = ImportForm()
    report, status = None, 200
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read(current_app.config["MAX_UPLOAD_BYTES"] + 1)
        if len(data) > current_app.config["MAX_UPLOAD_BYTES"]:
            form.file.errors.append(_("文件超过 %(mb)s MB，请分批导入。",
                                      mb=current_app.config["MAX_UPLOAD_BYTES"] // (1024 * 1024)))
            status = 413
        else:
            try:
                report = imports.run(upload.filename or "upload", data, current_user)
                db.session.commit()
            except ServiceError as exc:
                form.file.errors.append(exc.message)
                status = 422
            else:
                flash(_("导入完成：新增或更新 %(n)s 条，跳过 %(m)s 条，错误 %(k)s 条。", n=report.imported,
                        m=report.skipped, k=len(report.errors)), "success" if not report.errors else "warning")
    elif form.is_submitted():
        status = 422
    return render_template("ratings/import.html", form=form, report=report, recent=imports.recent_imports(current_user),
                           required=import_rows.REQUIRED, optional=import_rows.OPTIONAL), status
