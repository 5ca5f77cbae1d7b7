"""The officials' list of cloud providers: search, add, rename and set aliases."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.jsondata import flatten_errors
from forms.providers import ProviderForm
from rating.errors import ServiceError
from rating.extensions import db
from rating.models import Provider
from rating.permissions import is_official
from rating.services.review import providers

bp = Blueprint("providers", __name__, url_prefix="/providers")


def _saved(form: ProviderForm, provider_id: int | None) -> bool:
    """Validate and save; flash what went wrong. Whether it was saved (and committed)."""
    if not form.validate_on_submit():
        for messages in flatten_errors(form.errors).values():
            flash(str(messages[0]), "error")
        return False
    try:
        providers.save(current_user, form.name.data, form.alias_list(), provider_id)
    except ServiceError as exc:
        db.session.rollback()
        for field, messages in exc.fields.items():
            if field in form and messages:
                form[field].errors = [*form[field].errors, *messages]
        flash(exc.message, "error")
        return False
    db.session.commit()
    flash(_("已保存云服务商“%(name)s”。", name=form.name.data.strip()), "success")
    return True


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    if not is_official(current_user):
        abort(403)
    form = ProviderForm()
    if request.method == "POST" and _saved(form, None):
        return redirect(url_for(".index"))
    q = (request.args.get("q") or "").strip()[:200]
    return render_template("providers/index.html", form=form, q=q, items=providers.search(q))


@bp.route("/<int:provider_id>/edit", methods=["GET", "POST"])
@login_required
def edit(provider_id: int):
    if not is_official(current_user):
        abort(403)
    provider = db.session.get(Provider, provider_id) if provider_id < 2 ** 31 else None
    if provider is None:
        abort(404)
    form = ProviderForm(data={"name": provider.name, "aliases": "\n".join(a.alias for a in provider.aliases)}
                        if request.method == "GET" else None)
    if request.method == "POST" and _saved(form, provider_id):
        return redirect(url_for(".index"))
    return render_template("providers/edit.html", form=form, provider=provider)
