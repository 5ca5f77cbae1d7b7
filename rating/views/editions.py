"""Guide editions (HTML), for administrators: the list with the batches that use each, an
upload checked path by path, a preview (the form a firm gets, a sample answer set's score)
and two editions side by side."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.editions import EditionDiffForm, EditionUploadForm
from rating import clock
from rating.errors import ServiceError
from rating.extensions import db
from rating.permissions import can_manage_editions
from rating.rules.edition_preview import side_by_side, sample_scores
from rating.services import guide_editions
from rating.services.reference import get_edition

bp = Blueprint("editions", __name__, url_prefix="/guide-editions")


@bp.before_request
@login_required
def _admins_only():
    if not can_manage_editions(current_user):
        abort(403)


def _diff_form(listed) -> EditionDiffForm:
    form = EditionDiffForm(request.args if "a" in request.args else None)
    choices = [(e.code, f"{e.title}（{e.code}）") for e in listed]
    form.a.choices = form.b.choices = choices
    if "a" not in request.args and len(choices) > 1:
        form.a.data, form.b.data = choices[-2][0], choices[-1][0]
    return form


def _index(form: EditionUploadForm, problems: dict | None = None, status: int = 200):
    listed = guide_editions.listing()
    return render_template("editions/index.html", listed=listed, form=form, problems=problems or {},
                           diff_form=_diff_form(listed)), status


@bp.get("")
def index():
    return _index(EditionUploadForm())


@bp.post("")
def upload():
    form = EditionUploadForm()
    if not form.validate():
        return _index(form, status=422)
    try:
        code = guide_editions.upload(current_user, form.source.data.replace("\r\n", "\n"), form.media_type.data)
    except ServiceError as exc:
        db.session.rollback()
        form.source.errors = list(form.source.errors) + [exc.message]
        return _index(form, exc.fields, exc.status)
    db.session.commit()
    flash(_("已上传指南版本 %(code)s。", code=code), "success")
    return redirect(url_for("editions.preview", code=code))


@bp.get("/<code>")
def preview(code: str):
    try:
        edition = get_edition(code)
    except ServiceError:
        abort(404)
    listed = next(e for e in guide_editions.listing() if e.code == code)
    return render_template("editions/preview.html", edition=edition, listed=listed,
                           scores=sample_scores(edition, clock.today()))


@bp.get("/diff")
def diff():
    listed = guide_editions.listing()
    form = _diff_form(listed)
    if not form.validate():
        return redirect(url_for("editions.index"))
    left, _type = guide_editions.source_of(form.a.data)
    right, _type = guide_editions.source_of(form.b.data)
    return render_template("editions/diff.html", form=form, rows=side_by_side(left, right))
