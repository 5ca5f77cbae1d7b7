"""The firm's pages: dashboard, the self-assessment form, evidence, submission, the result."""
from __future__ import annotations

import re
from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from forms.application import ConfirmForm, EvidenceForm, NewApplicationForm, SubmitForm, application_form_class
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
from rating.services.filing import applications as filing
from rating.services.filing import lookups, snapshots
from rating.services.review import blacklist, experts, reviews, routing
from rating.services.filing.applications import held_levels
from rating.services.reference import edition_of_batch
from rating.views.api.serialize import adjustments_json
from rating.views.common import input_from_form, visible_application

bp = Blueprint("applications", __name__, url_prefix="/applications")

_ROW = re.compile(r"^cloud_services-(\d+)-(.+)$")
_PAYMENT = re.compile(r"^payments-(\d+)-(.+)$")


def enterprise_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not is_firm_user(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def compact_rows(formdata: MultiDict) -> MultiDict:
    """Drop blank service and payment rows a person left empty, and renumber the rest."""
    services: dict[int, MultiDict] = {}
    kept = MultiDict()
    for key, value in formdata.items(multi=True):
        match = _ROW.match(key)
        if match:
            services.setdefault(int(match.group(1)), MultiDict()).add(match.group(2), value)
        else:
            kept.add(key, value)
    new_index = 0
    for index in sorted(services):
        row = services[index]
        payments: dict[int, dict[str, str]] = {}
        plain = {}
        for key, value in row.items():
            pm = _PAYMENT.match(key)
            if pm:
                payments.setdefault(int(pm.group(1)), {})[pm.group(2)] = value
            else:
                plain[key] = value
        payments = {i: p for i, p in payments.items() if any(v.strip() for v in p.values())}
        # Selects always carry a value, so a row counts as blank when its text fields are.
        if not any((plain.get(k) or "").strip() for k in ("provider", "service_name", "started_on", "ended_on")) \
                and not payments:
            continue
        for key, value in plain.items():
            kept.add(f"cloud_services-{new_index}-{key}", value)
        for p_index, (_old, payment) in enumerate(sorted(payments.items())):
            for key, value in payment.items():
                kept.add(f"cloud_services-{new_index}-payments-{p_index}-{key}", value)
        new_index += 1
    return kept


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
        edition = edition_of_batch(batch.edition_code)
        options.append((batch, allowed_levels(edition, held), edition))
    # One application per firm and batch (a withdrawn one aside): a batch that already has
    # one offers it, not a form the service would refuse.
    existing: dict[int, Application] = {}
    for row in rows:
        if row.status != ApplicationStatus.withdrawn:
            existing.setdefault(row.batch_id, row)
    form = NewApplicationForm()
    return render_template("applications/dashboard.html", applications=rows, options=options,
                           existing=existing, form=form, held=sorted(held), enterprise=enterprise)


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


def _form_for(application, edition, formdata=None):
    form_class = application_form_class(edition)
    if formdata is not None:
        return form_class(formdata=formdata)
    data = {
        "target_level": application.target_level,
        "version": application.version,
        "answers": {code: value for code, value in
                    filing.answer_codec.for_scoring(edition, application.answers).items()},
        "cloud_services": [
            {
                "provider": s.provider, "service_name": s.service_name, "category": s.category,
                "deployment": s.deployment, "started_on": s.started_on, "ended_on": s.ended_on,
                "payments": [{"paid_on": p.paid_on, "amount": p.amount} for p in s.payments],
            }
            for s in application.services
        ],
    }
    for indicator in edition.indicators:
        value = data["answers"].get(indicator.code)
        if indicator.type == "boolean" and value is not None:
            data["answers"][indicator.code] = "true" if value else "false"
    form = form_class(formdata=None, data=data)
    return form


def _render_edit(application, edition, form, status=200, submit_errors=None):
    state = filing.completeness(application, edition)
    applicable = edition.indicators_for(application.target_level)
    evidence_by_code: dict[str | None, list[Evidence]] = {}
    for item in application.evidence:
        evidence_by_code.setdefault(item.indicator_code, []).append(item)
    return render_template(
        "applications/edit.html",
        application=application, edition=edition, form=form, applicable=applicable,
        completeness=state, evidence_by_code=evidence_by_code, evidence_form=EvidenceForm(),
        submit_form=SubmitForm(), confirm_form=ConfirmForm(),
        submit_errors=_located(submit_errors or {}, edition),
        editable=application.status in filing.EDITABLE,
    ), status


def _located(fields: dict[str, list[str]], edition) -> list[tuple[str | None, str | None, str]]:
    """A refused submission's messages as (what, where on the page, message): "请填写此项。"
    ten times over tells the firm nothing until it says which item, with a link to it."""
    english = str(get_locale()).startswith("en")
    items = []
    for name, messages in fields.items():
        _kind, _dot, code = name.partition(".")
        label = anchor = None
        indicator = _indicator(edition, code) if code else None
        if indicator is not None:
            label, anchor = (indicator.title_en if english else indicator.title), f"ind-{code}"
        elif name == "cloud_services":
            label, anchor = _("云服务清单"), "services"
        elif name == "pledge":
            label, anchor = _("诚信承诺"), "submit"
        items.extend((label, anchor, message) for message in messages)
    return items


def _indicator(edition, code: str):
    try:
        return edition.indicator(code)
    except KeyError:
        return None


@bp.route("/<int:application_id>/edit", methods=["GET", "POST"])
@enterprise_required
def edit(application_id: int):
    application = _own_application(application_id)
    edition = edition_of_batch(application.batch.edition_code)
    if request.method == "GET":
        form = _form_for(application, edition)
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
    formdata = compact_rows(request.form)
    form = _form_for(application, edition, formdata)
    if not form.validate():
        flash(_("有些内容需要修改，请查看标红的项目；已填写的内容尚未保存。"), "error")
        return _render_edit(application, edition, form, 422)
    shown = [i.code for i in edition.indicators_for(application.target_level)]
    try:
        filing.update_application(current_user, application, input_from_form(form, shown, True))
        db.session.commit()
    except ServiceError as exc:
        flash(exc.message, "error")
        db.session.rollback()
        return _render_edit(application, edition, form, exc.status)
    flash(_("草稿已保存（%(time)s）。", time=clock.local(clock.now()).strftime("%H:%M:%S")), "success")
    target = url_for(".edit", application_id=application.id)
    if "add_service" in request.form:
        target = url_for(".edit", application_id=application.id, add_service=1, _anchor="services")
    for key in request.form:
        if key.startswith("add_payment-"):
            index = key.split("-", 1)[1]
            target = url_for(".edit", application_id=application.id, add_payment=index, _anchor="services")
    return redirect(target)


@bp.post("/<int:application_id>/evidence")
@enterprise_required
def upload_evidence(application_id: int):
    application = _own_application(application_id)
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
        return _render_edit(application, edition, _form_for(application, edition), exc.status,
                            submit_errors=exc.fields)
    flash(_("申报已提交，系统正在自动评分，请稍候刷新查看。"), "success")
    # The id from the URL: the answer to a submission made must not need the database again.
    return redirect(url_for(".show", application_id=application_id))


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
        flash(_("申报已撤回。"), "info")
    return redirect(url_for(".show", application_id=application.id))


@bp.get("/<int:application_id>")
@login_required
def show(application_id: int):
    application = visible_application(current_user, application_id)
    edition = edition_of_batch(application.batch.edition_code)
    current = application.current_score
    result = ScoreResult.from_storage(current.detail) if current else None
    decision_form = None
    if can_review(current_user, application):
        decision_form = DecisionForm(version=application.version)
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
    )
