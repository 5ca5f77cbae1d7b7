"""Reviewers' pages: the queue of their stage and the decision on an application."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from forms.review import DecisionForm
from rating.errors import ServiceError
from rating import clock
from rating.models import ApplicationStatus, Role
from rating.services import reviews
from rating.views.common import visible_application
from workers.tasks import request_routing

bp = Blueprint("reviews", __name__, url_prefix="/reviews")


@bp.get("/")
@login_required
def queue():
    if current_user.role not in (Role.reviewer, Role.official, Role.admin):
        abort(403)
    return render_template("reviews/queue.html", items=reviews.queue(current_user), now=clock.now())


@bp.post("/<int:application_id>/decide")
@login_required
def decide(application_id: int):
    application = visible_application(current_user, application_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        for messages in form.errors.values():
            for message in messages:
                flash(str(message), "error")
        return redirect(url_for("applications.show", application_id=application.id, _anchor="decision"))
    try:
        reviews.decide(current_user, application, form.decision.data, form.comment.data, form.version.data)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("applications.show", application_id=application.id, _anchor="decision"))
    if application.status == ApplicationStatus.in_review:
        request_routing(application.id)
    flash(_("已办理：申报 #%(id)s。", id=application.id), "success")
    return redirect(url_for(".queue"))
