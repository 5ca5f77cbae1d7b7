"""Publicity pages: the public notice with its objection form; officials' management."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from forms.publicity import NoticeForm, ObjectionForm, ResolveForm
from forms.ratings import ConfirmForm
from rating import clock
from rating.errors import ServiceError
from rating.extensions import db, limiter
from rating.services.publicity import publicity
from rating.services.ratings import certificates
from rating.permissions import staff_scope
from rating.views.common import official_required

bp = Blueprint("publicity", __name__, url_prefix="/publicity")


def _flash_errors(form) -> None:
    for messages in form.errors.values():
        for message in messages:
            flash(str(message), "error")


@bp.get("/")
def index():
    notices = publicity.recent_notices(limit=100)
    return render_template("publicity/index.html", notices=notices, today=clock.today())


@bp.get("/<int:notice_id>")
def show(notice_id: int):
    notice = publicity.get_notice(notice_id)
    form = ObjectionForm()
    form.application_id.data = request.args.get("application_id", type=int)
    # The receipt of an objection just sent, shown in the objection section the page opens on
    # (#objection), not at the top of a long list where a phone never shows it.
    sent = session.pop("objection_sent", None) == notice.id
    return render_template("publicity/show.html", notice=notice, form=form, running=publicity.is_running(notice),
                           mask=publicity.mask_uscc, sent=sent)


@bp.post("/<int:notice_id>")
@limiter.limit("20 per hour;5 per minute", methods=["POST"])
def object_to(notice_id: int):
    notice = publicity.get_notice(notice_id)
    form = ObjectionForm()
    if form.validate_on_submit():
        try:
            publicity.submit_objection(notice, form.application_id.data, form.name.data, form.contact.data,
                                       form.reason.data, request.remote_addr)
        except ServiceError as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)   # shown in the form, where the page opens
        else:
            db.session.commit()
            session["objection_sent"] = notice.id
            return redirect(url_for(".show", notice_id=notice.id, _anchor="objection"))
    return render_template("publicity/show.html", notice=notice, form=form, running=publicity.is_running(notice),
                           mask=publicity.mask_uscc), 422



@bp.route("/manage", methods=["GET", "POST"])
@official_required
def manage():
    form = NoticeForm()
    if request.method == "GET":
        form.starts_on.data = clock.today()
        form.ends_on.data = publicity.suggested_period(clock.today())
    elif form.validate_on_submit():
        try:
            notice = publicity.create_notice(current_user, form.title.data, form.application_ids.data,
                                             form.starts_on.data, form.ends_on.data)
        except ServiceError as exc:
            db.session.rollback()   # the page below lists the notices again
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("公示已发布。"), "success")
            return redirect(url_for(".manage_notice", notice_id=notice.id))
    else:
        _flash_errors(form)
    scope = staff_scope(current_user)
    notices = publicity.managed_notices(current_user)
    return render_template("publicity/manage.html", form=form, notices=notices, scope=scope,
                           candidates=publicity.approved_in_scope(current_user), today=clock.today(),
                           publishers=publicity.publishing_stages())


def _resolve_forms(notice) -> dict[int, ResolveForm]:
    """A form per open objection, its fields' ids numbered by the objection (one page holds
    them all); the names stay those resolve() reads."""
    forms = {}
    for objection in (o for e in notice.entries for o in e.objections):
        form = forms[objection.id] = ResolveForm()
        for field in (form.outcome, form.action, form.comment):
            field.id = field.label.field_id = f"{field.name}-{objection.id}"
    return forms


@bp.get("/<int:notice_id>/manage")
@official_required
def manage_notice(notice_id: int):
    notice = publicity.managed_notice(current_user, notice_id)
    return render_template("publicity/notice_manage.html", notice=notice, forms=_resolve_forms(notice),
                           today=clock.today(), closable_from=publicity.closable_from,
                           mask=publicity.mask_uscc, confirm_form=ConfirmForm(),
                           progress=certificates.notice_progress(notice.id))


@bp.post("/<int:notice_id>/certificates")
@official_required
def generate_certificates(notice_id: int):
    """(Re)generate every certificate of the notice; the page then shows the progress."""
    notice = publicity.managed_notice(current_user, notice_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    count = certificates.request_for_notice(current_user, notice)
    db.session.commit()
    flash(_("已提交 %(n)s 份证书的生成。", n=count), "success")
    return redirect(url_for(".manage_notice", notice_id=notice.id, _anchor="certificates"))


@bp.get("/<int:notice_id>/certificates/progress")
@official_required
def certificate_progress(notice_id: int):
    notice = publicity.managed_notice(current_user, notice_id)
    return certificates.notice_progress(notice.id).as_json()


@bp.post("/<int:notice_id>/objections/<int:objection_id>/resolve")
@official_required
def resolve(notice_id: int, objection_id: int):
    notice = publicity.managed_notice(current_user, notice_id)
    form = ResolveForm()
    if not form.validate_on_submit():
        _flash_errors(form)
    else:
        try:
            publicity.resolve_objection(current_user, notice, objection_id, form.outcome.data,
                                        form.action.data or None, form.comment.data)
            db.session.commit()
            flash(_("异议已处理。"), "success")
        except ServiceError as exc:
            flash(exc.message, "error")
    return redirect(url_for(".manage_notice", notice_id=notice.id))


@bp.post("/<int:notice_id>/close")
@official_required
def close(notice_id: int):
    notice = publicity.managed_notice(current_user, notice_id)
    try:  # CSRFProtect has checked the form's token
        rated, held = publicity.close_notice(current_user, notice)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("公示已结束：%(rated)s 家予以认定，%(held)s 家因异议暂缓。", rated=len(rated), held=len(held)),
              "success")
    return redirect(url_for(".manage_notice", notice_id=notice.id))
