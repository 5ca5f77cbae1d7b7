"""Ratings through the API: the scoped list, one rating, revocation, public verification."""
from __future__ import annotations

from datetime import date

from flask import Response, request, send_file, stream_with_context
from flask_babel import gettext as _

from rating import clock
from rating.errors import Conflict, NotFound, ValidationFailed
from rating.extensions import db, limiter
from rating.models import RatingStatus
from rating.services.ratings import certificates, ratings, signing
from rating.services.reporting import exports
from rating.views.api import api_user, bp, int_arg, json_body, level_arg, token_required
from rating.permissions import OFFICIALS


def rating_json(rating) -> dict:
    enterprise = rating.enterprise
    return {
        "certificate_no": rating.certificate_no,
        "enterprise": {"id": enterprise.id, "name": enterprise.name, "uscc": enterprise.uscc,
                       "district_code": enterprise.district_code},
        "level": rating.level,
        "batch": rating.batch.name if rating.batch else rating.batch_label,
        "year": rating.year,
        "granted_on": rating.granted_on.isoformat(),
        "valid_until": rating.valid_until.isoformat(),
        "status": rating.status_on(clock.today()),
        "reward_yuan": float(rating.reward_yuan) if rating.reward_yuan is not None else None,
        "disbursement": rating.disbursement,
        "disbursed_on": rating.disbursed_on.isoformat() if rating.disbursed_on else None,
    }


@bp.get("/ratings")
@token_required()
def list_ratings():
    page = int_arg("page", 1, 100_000) or 1
    items, total = ratings.search(api_user(), page=page, **_list_filters())
    return {"items": [rating_json(r) for r in items], "total": total, "page": page}


@bp.get("/ratings/<certificate_no>")
@token_required()
def show_rating(certificate_no: str):
    rating = ratings.visible(api_user(), certificate_no)
    return {**rating_json(rating), "status_reason": rating.status_reason,
            "status_changed_on": rating.status_changed_on.isoformat() if rating.status_changed_on else None,
            "certificate": certificates.state_json(rating.certificate)}


def certificate_response(rating):
    """The stored PDF; 409 while it is still being rendered, 404 for a rating imported from an
    earlier list (issued on paper: this system never made its certificate)."""
    if rating.certificate is None and rating.application_id is None:
        raise NotFound(_("该认定由历史名单导入，本系统中没有它的电子证书；如需证书，请以当时颁发的纸质证书为准。"))
    response = None if rating.certificate is None else certificates.response(rating, mimetype="application/pdf",
                                     download_name=f"{rating.certificate_no}.pdf", as_attachment=True,
                                     conditional=True, etag=rating.certificate.sha256, max_age=0)
    if response is None:
        raise Conflict(_("证书正在生成，请稍后再试。"))
    return response


@bp.get("/ratings/<certificate_no>/certificate.pdf")
@token_required()
def download_certificate(certificate_no: str):
    return certificate_response(ratings.downloadable(api_user(), certificate_no))


@bp.post("/ratings/<certificate_no>/certificate")
@token_required(*OFFICIALS)
def regenerate_certificate(certificate_no: str):
    rating = ratings.regenerate(api_user(), certificate_no)
    db.session.commit()
    return {"certificate_no": rating.certificate_no, "certificate": certificates.state_json(rating.certificate),
            "requested_generation": rating.certificate.requested_generation}, 202


@bp.post("/ratings/<certificate_no>/disbursement")
@token_required(*OFFICIALS)
def update_disbursement(certificate_no: str):
    body = json_body()
    state, raw_day, note = body.get("state"), body.get("disbursed_on"), body.get("note")
    paid_on = None
    if raw_day not in (None, ""):
        try:
            paid_on = date.fromisoformat(raw_day) if isinstance(raw_day, str) else None
        except ValueError:
            paid_on = None
        if paid_on is None:
            raise ValidationFailed(_("日期格式应为 YYYY-MM-DD。"), {"disbursed_on": [_("日期格式应为 YYYY-MM-DD。")]})
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        raise ValidationFailed(_("备注不超过 2000 字。"), {"note": [_("备注不超过 2000 字。")]})
    rating = ratings.set_disbursement(api_user(), certificate_no, state if isinstance(state, str) else "",
                                      paid_on, note)
    db.session.commit()
    return rating_json(rating)


@bp.post("/ratings/<certificate_no>/revoke")
@token_required(*OFFICIALS)
def revoke_rating(certificate_no: str):
    body = json_body()
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 4000:
        raise ValidationFailed(_("请填写撤销原因。"), {"reason": [_("请填写撤销原因（不超过 4000 字）。")]})
    flags = {key: body.get(key) is True for key in ("blacklist_enterprise", "blacklist_provider")}
    rating = ratings.revoke(api_user(), certificate_no, reason, **flags)
    db.session.commit()
    return {"status": rating.status}


@bp.get("/verify/<certificate_no>")
@limiter.limit("120 per minute")
def verify(certificate_no: str):
    return ratings.verification(ratings.by_number(certificate_no))


@bp.get("/certificate-key")
def certificate_key():
    """The public key that checks certificate signatures offline."""
    return {"algorithm": "Ed25519", "payload_format": signing.PAYLOAD_PREFIX,
            "public_key_pem": signing.public_key_pem().decode()}


def _list_filters() -> dict:
    """The filters of GET /ratings, validated the same way for the list and the exports."""
    status = request.args.get("status") or None
    if status is not None and status not in RatingStatus.values():
        raise ValidationFailed(_("状态不正确。"), {"status": [_("应为 valid、revoked、superseded 或 expired。")]})
    codes = {key: (request.args.get(key) or None) for key in ("city", "district")}
    for key, value in codes.items():
        if value is not None and (len(value) != 6 or not value.isdigit()):
            raise ValidationFailed(_("行政区划代码应为 6 位数字。"), {key: [_("行政区划代码应为 6 位数字。")]})
    q = (request.args.get("q") or "").strip()[:100] or None
    return {"city": codes["city"], "district": codes["district"], "level": level_arg(),
            "year": int_arg("year", 1990, 2100), "status": status, "q": q}


@bp.get("/exports/ratings.csv")
@token_required(*OFFICIALS)
def export_csv():
    chunks = exports.csv_chunks(api_user(), _list_filters())
    return Response(stream_with_context(chunks), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=ratings.csv",
                             "Content-Type": "text/csv; charset=utf-8"})


@bp.get("/exports/ratings.xlsx")
@token_required(*OFFICIALS)
def export_xlsx():
    handle = exports.xlsx_file(api_user(), _list_filters())
    return send_file(handle, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     as_attachment=True, download_name="ratings.xlsx")
