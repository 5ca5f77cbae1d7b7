"""Conflicts of interest on a page: reviewers and experts declare, list and withdraw their own;
officials see the declarations of the staff in their scope."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.conflicts import ConflictForm, WithdrawConflictForm
from forms.jsondata import flatten_errors
from rating.errors import ServiceError
from rating.extensions import db
from rating.permissions import has_own_queue, is_official
from rating.services.review import assignments, conflicts

bp = Blueprint("conflicts", __name__, url_prefix="/reviews/conflicts")


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    own = has_own_queue(current_user)
    if not own and not is_official(current_user):
        abort(403)
    form = ConflictForm()
    if request.method == "POST":
        if not own:
            abort(403)
        if form.validate_on_submit():
            try:
                enterprise_id = conflicts.enterprise_by_uscc(form.uscc.data) if form.uscc.data else None
                assignments.declare_conflict(current_user, enterprise_id, form.group_name.data,
                                             form.provider_name.data, form.note.data or None)
            except ServiceError as exc:
                db.session.rollback()
                for field, messages in exc.fields.items():
                    if field in form and messages:
                        form[field].errors = [*form[field].errors, *messages]
                flash(exc.message, "error")
            else:
                db.session.commit()
                flash(_("已登记回避声明；与之冲突的审核任务已交由他人办理。"), "success")
                return redirect(url_for(".index"))
        else:
            for messages in flatten_errors(form.errors).values():
                flash(str(messages[0]), "error")
    return render_template("reviews/conflicts.html", form=form if own else None,
                           withdraw_form=WithdrawConflictForm(), items=conflicts.visible(current_user), own=own)


@bp.post("/<int:conflict_id>/withdraw")
@login_required
def withdraw(conflict_id: int):
    if not has_own_queue(current_user):
        abort(403)
    if WithdrawConflictForm().validate_on_submit():
        try:
            conflicts.withdraw(current_user, conflict_id)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("已撤回回避声明。"), "success")
    else:
        flash(_("页面已过期，请重试。"), "error")
    return redirect(url_for(".index"))
