"""The public verification page: what a certificate's QR code opens, and a file check."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from forms.ratings import VerifyUploadForm
from rating.errors import NotFound
from rating.extensions import limiter
from rating.services.ratings import certificates, ratings, signing

bp = Blueprint("verify", __name__)

# A certificate is a few hundred KB; anything much larger is not one of ours.
MAX_CHECKED_BYTES = 5 * 1024 * 1024


def _rating(certificate_no: str):
    try:
        return ratings.by_number(certificate_no)
    except NotFound:
        return None


def _page(certificate_no: str, rating, form: VerifyUploadForm, match: bool | None = None, checked: bool = False,
          status: int = 200):
    if rating is None:
        return render_template("verify/show.html", result=None, certificate_no=certificate_no, form=form), 404
    signature = request.args.get("sig", "")[:200]
    signature_ok = None
    if signature:
        # The QR code carries the signature: say whether it is ours for this certificate.
        signature_ok = signing.check(signing.rating_payload(rating), signature, signing.private_key().public_key())
    return render_template("verify/show.html", result=ratings.verification(rating), certificate_no=certificate_no,
                           form=form, match=match, checked=checked, signature_ok=signature_ok), status


@bp.get("/verify/public-key.pem")
def public_key():
    return Response(signing.public_key_pem(), mimetype="application/x-pem-file",
                    headers={"Content-Disposition": "inline; filename=certificate-signing-key.pem"})


@bp.get("/verify/<certificate_no>")
@limiter.limit("120 per minute")
def show(certificate_no: str):
    return _page(certificate_no, _rating(certificate_no), VerifyUploadForm())


@bp.post("/verify/<certificate_no>")
@limiter.limit("20 per minute")
def check_file(certificate_no: str):
    """Is this file byte-identical to the certificate we issued? (SHA-256 of the upload)."""
    rating, form = _rating(certificate_no), VerifyUploadForm()
    if not form.validate_on_submit():
        return _page(certificate_no, rating, form, status=422)
    if rating is None:
        return _page(certificate_no, rating, form)
    match = certificates.matches_issued(rating, form.file.data.stream, MAX_CHECKED_BYTES)
    return _page(certificate_no, rating, form, match=match, checked=True)
