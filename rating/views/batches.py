"""Batches (HTML): officials see every batch with its applications per state; province officials
and administrators open one (or copy last year's), edit it, extend it or close it early; a city's
officials set their city's own deadline inside the batch's window."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.batches import API_FIELDS, BatchForm, CityDeadlineForm, CloseBatchForm
from rating import clock
from rating.errors import ServiceError
from rating.extensions import db
from rating.models import JurisdictionLevel
from rating.permissions import can_manage_batches, can_set_city_deadline, is_official
from rating.rules.batches import REVIEW_STAGES
from rating.services import batches, reference

bp = Blueprint("batches", __name__, url_prefix="/batches")


def _form(**kwargs) -> BatchForm:
    form = BatchForm(**kwargs)
    form.guide_edition.choices = [("", _("请选择"))] + [(code, f"{title}（{code}）")
                                                       for code, title in batches.editions()]
    form.levels.choices = [(level, _("%(n)s 星级", n=level)) for level in reference.all_levels()]
    return form


def _terms(form: BatchForm, batch=None) -> dict:
    terms = {key: form[API_FIELDS[key]].data for key in API_FIELDS if not key.startswith("review_days.")}
    for key in ("opens_at", "closes_at"):       # the page shows minutes: an unchanged time keeps its seconds
        current = getattr(batch, key, None)
        if current is not None and terms[key] == current.replace(second=0, microsecond=0):
            terms[key] = current
    terms["review_days"] = {stage: form[f"review_days_{stage}"].data for stage in REVIEW_STAGES}
    terms["levels"] = terms["levels"] or None          # none ticked: every level of the edition
    return terms


def _fill(form: BatchForm, terms: dict) -> None:
    for key, name in API_FIELDS.items():
        if key.startswith("review_days."):
            form[name].data = terms["review_days"][key.split(".")[1]]
        else:
            form[name].data = terms[key]


def _place_errors(form: BatchForm, exc: ServiceError) -> None:
    placed = False
    for key, messages in exc.fields.items():
        name = API_FIELDS.get(key)
        if name:
            form[name].errors = list(form[name].errors) + list(messages)
            placed = True
    if not placed:
        flash(exc.message, "error")


def _manager() -> None:
    if not can_manage_batches(current_user):
        abort(403)


def _shifted(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:                      # 29 February
        return day.replace(year=day.year + years, day=28)


@bp.get("")
@login_required
def index():
    if not is_official(current_user):
        abort(403)
    rows = reference.batches()
    return render_template("batches/index.html", rows=rows, counts=batches.counts_by_state(),
                           deadlines=batches.city_deadlines(),
                           cities={j.code: j.name for j in reference.jurisdictions()
                                   if j.level == JurisdictionLevel.city},
                           manager=can_manage_batches(current_user), now=clock.now(), close_form=CloseBatchForm(),
                           own_city=_own_city(), levels={b.id: batches.offered_levels(b) for b in rows})


def _own_city():
    """The city whose deadline the current user sets, if they are a city's official."""
    scope = current_user.jurisdiction
    if scope is not None and scope.level == JurisdictionLevel.city and can_set_city_deadline(current_user, scope):
        return scope
    return None


def _save(form: BatchForm, batch_id: int | None):
    try:
        if batch_id is None:
            batch = batches.create(current_user, _terms(form))
        else:
            batch = batches.update(current_user, batch_id, _terms(form, reference.get_batch(batch_id)))
    except ServiceError as exc:
        db.session.rollback()
        _place_errors(form, exc)
        return None
    db.session.commit()
    return batch


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    _manager()
    form = _form()
    if request.method == "GET" and request.args.get("copy", type=int):
        source = reference.get_batch(request.args.get("copy", type=int))
        terms = batches.terms_of(source)
        years = max(1, clock.today().year - source.year) if source.year <= clock.today().year else 0
        terms["name"] = terms["name"].replace(str(source.year), str(source.year + years))
        for key in ("usage_cutoff", "investment_from", "investment_to"):
            terms[key] = _shifted(terms[key], years)
        for key in ("opens_at", "closes_at"):
            local = clock.local(terms[key])
            terms[key] = local.replace(year=local.year + years) if not (local.month == 2 and local.day == 29) \
                else local.replace(year=local.year + years, day=28)
        _fill(form, terms)
    elif request.method == "GET":
        form.review_days_county.data, form.review_days_city.data, form.review_days_province.data = 10, 20, 30
    status = 200
    if form.validate_on_submit():
        batch = _save(form, None)
        if batch is not None:
            flash(_("已新建申报批次“%(name)s”。", name=batch.name), "success")
            return redirect(url_for(".index"))
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("batches/form.html", form=form, batch=None), status


@bp.route("/<int:batch_id>/edit", methods=["GET", "POST"])
@login_required
def edit(batch_id: int):
    _manager()
    batch = reference.get_batch(batch_id)
    form = _form()
    if request.method == "GET":
        _fill(form, batches.terms_of(batch))
    status = 200
    if form.validate_on_submit():
        if _save(form, batch_id) is not None:
            flash(_("已保存申报批次“%(name)s”。", name=batch.name), "success")
            return redirect(url_for(".index"))
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("batches/form.html", form=form, batch=batch,
                           filed=batches.application_count(batch.id)), status


@bp.post("/<int:batch_id>/close")
@login_required
def close(batch_id: int):
    _manager()
    if not CloseBatchForm().validate_on_submit():
        abort(400)
    try:
        batch = batches.update(current_user, batch_id, {"closes_at": clock.now()})
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".index"))
    db.session.commit()
    flash(_("申报批次“%(name)s”已提前截止。", name=batch.name), "success")
    return redirect(url_for(".index"))


@bp.route("/<int:batch_id>/city-deadline", methods=["GET", "POST"])
@login_required
def city_deadline(batch_id: int):
    city = _own_city()
    if city is None:
        abort(403)
    batch = reference.get_batch(batch_id)
    form = CityDeadlineForm()
    if request.method == "GET":
        form.closes_at.data = batches.city_deadlines(batch.id).get(batch.id, {}).get(city.code)
    status = 200
    if form.validate_on_submit():
        try:
            batches.set_city_deadline(current_user, batch.id, city.code, form.closes_at.data)
        except ServiceError as exc:
            db.session.rollback()
            form.closes_at.errors = list(form.closes_at.errors) + list(exc.fields.get("closes_at", [exc.message]))
            status = exc.status
        else:
            db.session.commit()
            flash(_("已设置%(city)s在“%(name)s”的截止时间。", city=city.name, name=batch.name), "success")
            return redirect(url_for(".index"))
    elif request.method == "POST":
        status = 422
    return render_template("batches/city_deadline.html", form=form, batch=batch, city=city), status
