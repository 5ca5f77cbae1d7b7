"""Home page and language switch."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user

from rating import clock
from rating.readonly import read_only
from rating.services import reference
from rating.services.reporting import totals
from rating.permissions import has_own_queue, is_firm_user, is_official

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    if is_firm_user(current_user):
        return redirect(url_for("applications.dashboard"))
    if has_own_queue(current_user):
        return redirect(url_for("reviews.queue"))
    if is_official(current_user):
        return redirect(url_for("reviews.overview"))
    return render_template("index.html", batches=reference.open_batches())


@bp.get("/totals")
@read_only
def public_totals():
    """The published figures, open to anyone: star-rated firms per city and level today."""
    return render_template("totals/public.html", table=totals.city_level_table(clock.today()))


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in ("zh_Hans_CN", "en"):
        session["lang"] = code
    target = request.referrer or url_for("main.index")
    # Only same-site referrers: never an open redirect.
    if not target.startswith(request.host_url):
        target = url_for("main.index")
    return redirect(target)


@bp.get("/hello")
def hello():
    """The floor endpoint that benchmarks compare real pages against."""
    return "hello"
