"""The public verification page: what a certificate's QR code opens."""
from __future__ import annotations

from flask import Blueprint, render_template

from rating.errors import NotFound
from rating.extensions import limiter
from rating.services import ratings

bp = Blueprint("verify", __name__)


@bp.get("/verify/<certificate_no>")
@limiter.limit("120 per minute")
def show(certificate_no: str):
    try:
        rating = ratings.by_number(certificate_no)
    except NotFound:
        return render_template("verify/show.html", result=None, certificate_no=certificate_no), 404
    return render_template("verify/show.html", result=ratings.verification(rating), certificate_no=certificate_no)
