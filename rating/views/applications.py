"""The firm's pages: dashboard, the self-assessment form, evidence, submission, the result."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.application import ConfirmForm, EvidenceForm, NewApplicationForm, SubmitForm
from forms.review import DecisionForm, ExpertScoresForm
from rating import clock
from rating.errors import ServiceError
from rating.extensions import db
from rating.models import Application, ApplicationStatus, EmailKind, Evidence
from rating.permissions import can_edit_application, can_review, claim_pending, is_firm_user, is_staff
from rating.rules.eligibility import allowed_levels
from rating.rules.scoring import ScoreResult
from rating.platform import blobstore, outbox, storage
from rating.services import reference
from rating.services.accounts import claims
from rating.services.batches import city_deadline_of
from rating.services.filing import applications as filing
from rating.services.filing import copies, lookups, snapshots
from rating.services.review import blacklist, experts, reviews, routing
from rating.services.filing.applications import held_levels
from rating.services.reference import edition_of_batch
from rating.views.api.serialize import adjustments_json
from rating.views.application_form import compact_rows, form_for, located, requirements
from rating.views.common import input_from_form, visible_application

bp = Blueprint("applications", __name__, url_prefix="/applications")

def enterprise_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not is_firm_user(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


@bp.get("/")
@enterprise_required
def dashboard():
    if claim_pending(current_user):
        # Nothing of the claimed firm (its ratings, held levels) until the county confirms.
        return render_template("applications/claim_pending.html", claim=claims.claim_of(current_user),
                               message=claims.pending_message(),
                               districts={c.code: c.name for c in reference.counties()})
    enterprise = current_user.enterprise
    rows = lookups.applications_of_enterprise(enterprise.id)
    held = held_levels(enterprise.id, clock.today())
    options = []
    for batch in reference.open_batches():
        if not batch.is_open_at(clock.now(), city_deadline_of(batch.id, enterprise.district_code)):
            continue        # the firm's city closed it earlier
        edition = edition_of_batch(batch.edition_code)
        options.append((batch, [lv for lv in allowed_levels(edition, held) if batch.offers(lv)], edition))
    # One application per firm and batch (a withdrawn one aside): a batch that already has
    # one offers it, not a form the service would refuse.
    existing: dict[int, Application] = {}
    withdrawn: dict[int, Application] = {}  # a batch's latest withdrawn one: filing again starts from it
    for row in rows:
        if row.status != ApplicationStatus.withdrawn:
            existing.setdefault(row.batch_id, row)
        elif withdrawn.get(row.batch_id) is None or withdrawn[row.batch_id].id < row.id:
            withdrawn[row.batch_id] = row
    form = NewApplicationForm()
    return render_template("applications/dashboard.html", applications=rows, options=options,
                           existing=existing, withdrawn=withdrawn, form=form, held=sorted(held),
                           enterprise=enterprise, confirm_form=ConfirmForm())


@bp.post("/new")
@enterprise_required
def create():
    form = NewApplicationForm()
    if not form.validate_on_submit():
        flash(_("请选择申报批次和星级。"), "error")
        return redirect(url_for(".dashboard"))
    try:
        outcome = filing.create_application(
            current_user, filing.ApplicationInput(batch_id=form.batch_id.data, target_level=form.target_level.data)
        )
        db.session.commit()
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".dashboard"))
    flash(_("已创建申报草稿，请逐项填写。"), "success")
    return redirect(url_for(".edit", application_id=outcome.application.id))


def _own_application(application_id: int) -> Application:
    application = visible_application(current_user, application_id)
    if not can_edit_application(current_user, application):
        abort(403)
    return application


def _render_edit(application, edition, form, status=200, submit_errors=None, evidence_errors=None):
    """The form; `evidence_errors` (indicator code → message) are shown beside that file input."""
    state = filing.completeness(application, edition)
    applicable = edition.indicators_for(application.target_level)
    evidence_by_code: dict[str | None, list[Evidence]] = {}
    for item in application.evidence:
        evidence_by_code.setdefault(item.indicator_code, []).append(item)
    return render_template(
        "applications/edit.html",
        application=application, edition=edition, form=form, applicable=applicable,
        completeness=state, evidence_by_code=evidence_by_code,
        submit_form=SubmitForm(), confirm_form=ConfirmForm(),
        submit_errors=located(submit_errors or {}, edition),
        editable=application.status in filing.EDITABLE, evidence_errors=evidence_errors or {},
        uploaded=request.args.getlist("uploaded"), requirements=requirements(application, edition),
    ), status


@bp.route("/<int:application_id>/edit", methods=["GET", "POST"])
@enterprise_required
def edit(application_id: int):
    application = _own_application(application_id)
    edition = edition_of_batch(application.batch.edition_code)
    if request.method == "GET":
        if application.status not in filing.EDITABLE:
            # The back button leads here after submitting: the page, not a form refusing all.
            flash(_("申报当前状态为“%(status)s”，不能再修改，以下是它的办理情况。",
                    status=ApplicationStatus(application.status).label), "info")
            return redirect(url_for(".show", application_id=application.id))
        form = form_for(application, edition)
        if request.args.get("add_service"):
            form.cloud_services.append_entry()
        add_payment = request.args.get("add_payment", "")
        if add_payment.isdigit() and int(add_payment) < len(form.cloud_services.entries):
            form.cloud_services.entries[int(add_payment)].form.payments.append_entry()
        if not form.cloud_services.entries:
            form.cloud_services.append_entry()
        for entry in form.cloud_services.entries:
            # One empty payment row to fill in; blank rows are dropped on save.
            if not entry.form.payments.entries:
                entry.form.payments.append_entry()
        return _render_edit(application, edition, form)
    form, refused = _save_answers(application, edition)
    if refused is not None:
        return refused
    flash(_("草稿已保存（%(time)s）。", time=clock.local(clock.now()).strftime("%H:%M:%S")), "success")
    target = url_for(".edit", application_id=application.id)
    if "add_service" in request.form:
        target = url_for(".edit", application_id=application.id, add_service=1, _anchor="services")
    for key in request.form:
        if key.startswith("add_payment-"):
            index = key.split("-", 1)[1]
            target = url_for(".edit", application_id=application.id, add_payment=index, _anchor="services")
    return redirect(target)


def _save_answers(application, edition, extra_errors=None):
    """Save the posted application form; (form, None), or (form, the page that says why not)."""
    form = form_for(application, edition, compact_rows(request.form))
    if not form.validate():
        flash(_("有些内容需要修改，请查看标红的项目；已填写的内容尚未保存。"), "error")
        return form, _render_edit(application, edition, form, 422, evidence_errors=extra_errors)
    shown = [i.code for i in edition.indicators_for(application.target_level)]
    try:
        filing.update_application(current_user, application, input_from_form(form, shown, True))
        db.session.commit()
    except ServiceError as exc:
        flash(exc.message, "error")
        db.session.rollback()
        return form, _render_edit(application, edition, form, exc.status, evidence_errors=extra_errors)
    return form, None


def _upload_with_answers(application, code: str):
    """An upload button of the application form: the answers are saved first, then the file
    chosen beside that button is stored (and any other file chosen in the form, each for its
    own indicator); a refusal comes back in the form, beside its file input, answers kept."""
    edition = edition_of_batch(application.batch.edition_code)
    codes = [i.code for i in edition.indicators_for(application.target_level) if i.evidence_required]
    if code not in codes:
        abort(400)
    chosen = {c: request.files[f"evidence-{c}"] for c in codes if request.files.get(f"evidence-{c}")
              and request.files[f"evidence-{c}"].filename}
    not_sent = {c: _("文件尚未上传：请先修改标红的项目，再重新选择文件上传。") for c in chosen or [code]}
    _form, refused = _save_answers(application, edition, not_sent)
    if refused is not None:
        return refused
    problems = {} if chosen else {code: _("请选择要上传的文件。")}
    stored = []
    for indicator_code, upload in chosen.items():
        try:
            stored.append(filing.add_evidence(current_user, application, upload.stream, upload.filename,
                                              indicator_code))
            db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            problems[indicator_code] = exc.message
    if stored:
        flash(_("已上传：%(name)s（已填写的内容已一并保存）", name="、".join(e.filename for e in stored)), "success")
    if problems:
        db.session.refresh(application)
        kept = compact_rows(request.form)
        kept["version"] = str(application.version)  # the answers were saved: the version moved on
        saved = _("（已填写的内容已保存。）")
        return _render_edit(application, edition, form_for(application, edition, kept), 422,
                            evidence_errors={c: message + saved for c, message in problems.items()})
    return redirect(url_for(".edit", application_id=application.id, uploaded=[e.id for e in stored],
                            _anchor=f"ind-{code if code in chosen else stored[0].indicator_code}"))


@bp.post("/<int:application_id>/evidence")
@enterprise_required
def upload_evidence(application_id: int):
    application = _own_application(application_id)
    if request.form.get("upload"):
        return _upload_with_answers(application, request.form["upload"])
    form = EvidenceForm()
    anchor = f"ind-{form.indicator_code.data}" if form.indicator_code.data else "evidence"
    if not form.validate_on_submit():
        flash(_("请选择要上传的文件。"), "error")
        return redirect(url_for(".edit", application_id=application.id, _anchor=anchor))
    try:
        evidence = filing.add_evidence(current_user, application, form.file.data.stream,
                                       form.file.data.filename, form.indicator_code.data or None)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("已上传：%(name)s", name=evidence.filename), "success")
    return redirect(url_for(".edit", application_id=application.id, _anchor=anchor))


@bp.post("/<int:application_id>/evidence/<int:evidence_id>/delete")
@enterprise_required
def delete_evidence(application_id: int, evidence_id: int):
    application = _own_application(application_id)
    evidence = lookups.evidence_of(application, evidence_id)
    if evidence is None or not ConfirmForm().validate_on_submit():
        abort(404)
    try:
        filing.remove_evidence(current_user, application, evidence)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for(".edit", application_id=application.id, _anchor="evidence"))


@bp.get("/<int:application_id>/evidence/<int:evidence_id>")
@login_required
def download_evidence(application_id: int, evidence_id: int):
    application = visible_application(current_user, application_id)
    evidence = lookups.evidence_of(application, evidence_id)
    if evidence is None:
        abort(404)
    response = blobstore.backend().send(storage.key_for(evidence.sha256), mimetype=evidence.content_type,
                                        as_attachment=True, download_name=evidence.filename, max_age=0)
    if response is None:
        abort(404)
    return response


@bp.post("/<int:application_id>/submit")
@enterprise_required
def submit(application_id: int):
    application = _own_application(application_id)
    edition = edition_of_batch(application.batch.edition_code)
    form = SubmitForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        filing.submit_application(current_user, application, bool(form.pledge.data))
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _render_edit(application, edition, form_for(application, edition), exc.status,
                            submit_errors=exc.fields)
    flash(_("申报已提交，系统正在自动评分，请稍候刷新查看。"), "success")
    # The id from the URL: the answer to a submission made must not need the database again.
    return redirect(url_for(".show", application_id=application_id))


@bp.get("/<int:application_id>/withdraw")
@enterprise_required
def confirm_withdrawal(application_id: int):
    """What withdrawing means, and the button that does it (works without JavaScript)."""
    application = _own_application(application_id)
    if application.status not in filing.OPEN:
        return redirect(url_for(".show", application_id=application.id))
    return render_template("applications/withdraw.html", application=application, confirm_form=ConfirmForm())


@bp.post("/<int:application_id>/copy")
@enterprise_required
def copy(application_id: int):
    """A new draft in the same batch, filled from the withdrawn application."""
    application = _own_application(application_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        outcome = copies.copy_withdrawn(current_user, application)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".show", application_id=application.id))
    flash(_("已按撤回的申报 #%(id)s 创建新的申报草稿：答案、云服务及付款记录、证明材料均已复制，请核对后提交。",
            id=application_id), "success")
    return redirect(url_for(".edit", application_id=outcome.application.id))


@bp.post("/<int:application_id>/withdraw")
@enterprise_required
def withdraw(application_id: int):
    application = _own_application(application_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        filing.withdraw_application(current_user, application)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("申报已撤回。如需重新申报，可在本页以它为底稿新建申报。"), "info")
    return redirect(url_for(".show", application_id=application.id))


@bp.get("/<int:application_id>")
@login_required
def show(application_id: int):
    return render_show(visible_application(current_user, application_id))


def render_show(application: Application, decision_form: DecisionForm | None = None, status: int = 200):
    """The application's page; a reviewer's refused decision comes back in it with its choice,
    comment and errors (reviews.decide), the message next to the field."""
    edition = edition_of_batch(application.batch.edition_code)
    current = application.current_score
    result = ScoreResult.from_storage(current.detail) if current else None
    if not can_review(current_user, application):
        decision_form = None
    else:
        decision_form = decision_form or DecisionForm(version=application.version)
        allowed = reviews.allowed_decisions(application)
        decision_form.decision.choices = [c for c in decision_form.decision.choices if c[0] in allowed]
    return render_template(
        "applications/show.html", application=application, edition=edition, result=result,
        score=current, confirm_form=ConfirmForm(),
        can_edit=can_edit_application(current_user, application),
        statuses=ApplicationStatus, decision_form=decision_form,
        alerts=blacklist.alerts(application) if is_staff(current_user) and application.status in filing.OPEN else [],
        assignment=routing.open_assignment(application.id) if is_staff(current_user) else None,
        emails=[m for m in outbox.log_for(application.id)
                if is_staff(current_user) or m.kind == EmailKind.status_changed],
        adjustments=adjustments_json(application),
        diff=snapshots.diff(application) if is_staff(current_user) else None,
        expert_summary=experts.summary(application) if is_staff(current_user) else None,
        can_assign_experts=experts.can_assign(current_user, application),
        expert_form=ExpertScoresForm() if experts.awaits_scores(current_user, application) else None,
    ), status
