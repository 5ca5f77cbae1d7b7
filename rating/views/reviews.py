"""Reviewers' pages: the queue of their stage and the decision on an application."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.jsondata import flatten_errors
from forms.officials import LiftForm
from forms.providers import BlacklistPageForm
from forms.review import DecisionForm, ExpertScoresForm
from rating.errors import ServiceError
from rating import clock
from rating.extensions import db
from rating.platform import blobstore, storage
from rating.services.filing import lookups
from rating.services.reference import all_levels
from rating.models import Provider
from rating.services.review import assignments, blacklist, experts, handled, providers, reviews
from rating.readonly import read_only
from rating.views.applications import render_show
from rating.views.common import visible_application
from rating.permissions import can_review, is_official, is_staff, staff_scope

bp = Blueprint("reviews", __name__, url_prefix="/reviews")
PAGE_SIZES = (20, 50, 100)   # rows per page of the queue; the first is the default


@bp.get("/")
@read_only
@login_required
def queue():
    if not is_staff(current_user):
        abort(403)
    levels = all_levels()
    level = request.args.get("level", type=int)
    level = level if level in levels else None   # no such star level: no filter
    overdue = request.args.get("overdue") == "1"
    page = max(1, min(request.args.get("page", 1, type=int), 10_000))
    per_page = request.args.get("per_page", PAGE_SIZES[0], type=int)
    per_page = per_page if per_page in PAGE_SIZES else PAGE_SIZES[0]
    items, total, late = reviews.queue_page(current_user, per_page, level=level, overdue=overdue,
                                            offset=(page - 1) * per_page)
    now = clock.now()
    scope_name = current_user.jurisdiction.name if current_user.jurisdiction is not None else None
    pages = max(1, -(-total // per_page))

    return render_template("reviews/queue.html", items=items, total=total, late=late, page=page, pages=pages,
                           per_page=per_page, page_sizes=PAGE_SIZES, now=now, level=level, levels=levels,
                           overdue=overdue, scope_name=scope_name)


@bp.get("/handled")
@read_only
@login_required
def handled_list():
    """已办: the decisions this reviewer made, linked from the queue."""
    if not is_staff(current_user):
        abort(403)
    page = max(1, min(request.args.get("page", 1, type=int), 10_000))
    per_page = PAGE_SIZES[0]
    items, total = handled.handled_page(current_user, per_page, offset=(page - 1) * per_page)
    return render_template("reviews/handled.html", items=items, total=total, page=page,
                           pages=max(1, -(-total // per_page)))


@bp.post("/<int:application_id>/decide")
@login_required
def decide(application_id: int):
    application = visible_application(current_user, application_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        if not can_review(current_user, application):    # no decision form on the page to show them in
            for messages in form.errors.values():
                flash(str(messages[0]), "error")
            return redirect(url_for("applications.show", application_id=application.id))
        # The page again with the choice and comment kept, each message next to its field.
        return render_show(application, form, 422)
    try:
        reviews.decide(current_user, application, form.decision.data, form.comment.data, form.version.data)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        if not can_review(current_user, application):   # the page has no decision form to show it in
            flash(exc.message, "error")
            return redirect(url_for("applications.show", application_id=application.id))
        about = next((name for name in ("decision", "comment") if name in exc.fields), None)
        if about is not None:
            form[about].errors = [exc.message]
        else:
            form.form_errors.append(exc.message)
        return render_show(application, form, exc.status)
    flash(_("已办理：申报 #%(id)s。", id=application.id), "success")
    # An address with its own fragment: without one the queue would inherit the form's #decision.
    return redirect(url_for(".queue", _anchor="main"))


# Evidence shown in the page: only kinds the upload check identified by their bytes, never SVG or
# HTML (not accepted at all). The file's own policy allows nothing but being framed by this site
# (frame-ancestors / X-Frame-Options) and, for a PDF, Chromium's viewer (object-src 'self').
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})
INLINE_POLICY = ("default-src 'none'; img-src 'self'; object-src 'self'; base-uri 'none'; "
                 "form-action 'none'; frame-ancestors 'self'")


@bp.get("/<int:application_id>/evidence/<int:evidence_id>")
@login_required
def view_evidence(application_id: int, evidence_id: int):
    """An evidence file opened in the page (an <img> or <iframe> of the application's page);
    other kinds go to their download."""
    application = visible_application(current_user, application_id)
    evidence = lookups.evidence_of(application, evidence_id)
    if evidence is None:
        abort(404)
    if evidence.content_type not in INLINE_TYPES:
        return redirect(url_for("applications.download_evidence", application_id=application.id,
                                evidence_id=evidence.id))
    response = blobstore.backend().send(storage.key_for(evidence.sha256), mimetype=evidence.content_type,
                                        as_attachment=False, download_name=evidence.filename, max_age=0)
    if response is None:
        abort(404)
    response.headers["Content-Security-Policy"] = INLINE_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/<int:application_id>/experts")
@login_required
def assign_experts(application_id: int):
    application = visible_application(current_user, application_id)
    count = request.form.get("count", type=int)
    try:
        items = experts.assign(current_user, application, None, count if count and 1 <= count <= 20 else None)
        db.session.commit()
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash(_("已指派 %(n)s 位专家。", n=len(items)), "success")
    return redirect(url_for("applications.show", application_id=application.id, _anchor="experts"))


@bp.post("/<int:application_id>/expert-scores")
@login_required
def expert_scores(application_id: int):
    application = visible_application(current_user, application_id)
    form = ExpertScoresForm()
    if not form.validate_on_submit():
        for message in flatten_errors(form.errors).values():
            flash(str(message[0]), "error")
        return redirect(url_for("applications.show", application_id=application.id, _anchor="expert-scoring"))
    try:
        experts.submit_scores(current_user, application,
                              {e.form.code.data: e.form.points.data for e in form.scores.entries}, form.comment.data)
        db.session.commit()
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("applications.show", application_id=application.id, _anchor="expert-scoring"))
    flash(_("评分已提交。"), "success")
    return redirect(url_for(".queue"))


@bp.get("/overview")
@login_required
def overview():
    if not is_official(current_user):
        abort(403)
    scope = staff_scope(current_user)
    return render_template("reviews/overview.html", scope=scope, rows=assignments.overview(scope))


@bp.route("/blacklist", methods=["GET", "POST"])
@login_required
def blacklist_page():
    """A firm named by its credit code or a part of its name (several matches are listed to
    choose from by credit code), or a provider chosen from the officials' list."""
    if not is_official(current_user):
        abort(403)
    form = BlacklistPageForm()
    form.offer(providers.search())
    candidates = []
    if request.method == "POST":
        if form.validate_on_submit():
            provider = db.session.get(Provider, int(form.provider_id.data)) if form.provider_id.data else None
            firms = blacklist.firms_matching(current_user, form.enterprise.data or "")
            if form.enterprise.data and len(firms) != 1:
                candidates = firms
                message = (_("有 %(n)s 家企业符合，请填写其中一家的统一社会信用代码。", n=len(firms)) if firms
                           else _("没有符合的企业，请检查统一社会信用代码或名称。"))
                form.enterprise.errors = [message]
                flash(message, "error")
            else:
                try:
                    _entry, flagged = blacklist.add(current_user, form.reason.data,
                                                    firms[0].id if firms else None,
                                                    provider.name if provider else None)
                except ServiceError as exc:
                    db.session.rollback()   # the page below reads the list again
                    flash(exc.message, "error")
                else:
                    db.session.commit()
                    flash(_("已列入黑名单；受影响的在办申报 %(n)s 件已标记。", n=len(flagged)), "success")
                    return redirect(url_for(".blacklist_page"))
        else:
            for message in flatten_errors(form.errors).values():
                flash(str(message[0]), "error")
    return render_template("reviews/blacklist.html", form=form, lift_form=LiftForm(), candidates=candidates,
                           entries=blacklist.active_entries(current_user))


@bp.post("/blacklist/<int:entry_id>/lift")
@login_required
def lift_blacklist(entry_id: int):
    if not is_official(current_user):
        abort(403)
    form = LiftForm()
    if form.validate_on_submit():
        try:
            blacklist.lift(current_user, entry_id, form.reason.data)
            db.session.commit()
            flash(_("已移出黑名单。"), "success")
        except ServiceError as exc:
            flash(exc.message, "error")
    else:
        flash(_("请填写原因。"), "error")
    return redirect(url_for(".blacklist_page"))
