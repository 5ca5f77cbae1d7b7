"""Approval quotas (HTML), for officials (the counties in their scope) and administrators: a
batch's caps per county and level with what is used and remaining, and setting one as a
count or a percentage of a base (typed, or the county's registered firms)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.editions import QuotaPageForm
from rating.errors import ServiceError
from rating.extensions import db
from rating.permissions import is_official
from rating.services import reference
from rating.services.review import quotas

bp = Blueprint("quotas", __name__, url_prefix="/quotas")


@bp.before_request
@login_required
def _officials_only():
    if not is_official(current_user):
        abort(403)


def _batch():
    batches = reference.batches()
    if not batches:
        return None, batches
    wanted = request.view_args.get("batch_id") or request.args.get("batch_id", type=int)
    chosen = next((b for b in batches if b.id == wanted), None)
    if wanted is not None and chosen is None:
        abort(404)
    return chosen or batches[0], batches


def _page(form: QuotaPageForm | None, status: int = 200):
    batch, batches = _batch()
    if batch is None:
        return render_template("quotas/index.html", batch=None, batches=[]), status
    counties = quotas.counties_in_scope(current_user)
    levels = quotas.batch_levels(batch)
    form = form or QuotaPageForm()
    form.district_code.choices = [(c.code, f"{c.name}（{c.code}）") for c in counties]
    form.level.choices = [(level, _("%(n)s 星级", n=level)) for level in levels]
    rows = {(r.quota.district_code, r.quota.level): r for r in quotas.quotas_of(current_user, batch.id)}
    used = quotas.used_counts(batch.id, [c.code for c in counties])
    return render_template("quotas/index.html", batch=batch, batches=batches, counties=counties, levels=levels,
                           rows=rows, used=used, form=form), status


@bp.get("")
@login_required
def index():
    return _page(None)


@bp.post("/<int:batch_id>")
@login_required
def save(batch_id: int):
    form = QuotaPageForm()
    _page_batch, _batches = _batch()
    form.district_code.choices = [(c.code, c.code) for c in quotas.counties_in_scope(current_user)]
    form.level.choices = [(level, str(level)) for level in quotas.batch_levels(_page_batch)]
    if form.validate():
        if form.kind.data == "count":     # only the chosen kind's fields count
            form.percent.data = form.base_count.data = None
        else:
            form.max_count.data = None
        try:
            quota = quotas.set_quota(current_user, batch_id, form.district_code.data, form.level.data,
                                     form.max_count.data, form.percent.data, form.base_count.data,
                                     form.base_source.data or "typed")
        except ServiceError as exc:
            db.session.rollback()
            placed = False
            for name, messages in exc.fields.items():
                if name in form:
                    form[name].errors = list(form[name].errors) + messages
                    placed = True
            if not placed or exc.status == 409:
                flash(exc.message, "error")
            return _page(form, exc.status)
        db.session.commit()
        flash(_("已保存名额：上限 %(cap)s 家。", cap=quota.cap), "success")
        return redirect(url_for("quotas.index", batch_id=batch_id))
    return _page(form, 422)
