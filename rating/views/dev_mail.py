"""The mail the local catcher of `make run` kept (rating/platform/mail_catcher.py), for
administrators, and only when the application runs in development mode
(RATING_ENV=development, which `make run` sets): 404 otherwise, to everyone."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user, login_required

from rating.models import Role
from rating.platform import mail_catcher

bp = Blueprint("dev_mail", __name__)


def _allowed() -> None:
    if not current_app.config.get("DEVELOPMENT"):
        abort(404)
    if current_user.role != Role.admin:
        abort(403)


@bp.get("/dev/mail")
@login_required
def index():
    _allowed()
    return render_template("dev_mail/index.html",
                           messages=mail_catcher.caught(current_app.config["MAIL_CATCHER_DIR"]))


@bp.get("/dev/mail/<name>")
@login_required
def show(name: str):
    _allowed()
    message = mail_catcher.read(current_app.config["MAIL_CATCHER_DIR"], name)
    if message is None:
        abort(404)
    return render_template("dev_mail/show.html", message=message)
