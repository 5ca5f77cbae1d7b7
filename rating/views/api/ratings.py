"""Ratings through the API: the scoped list, one rating, revocation, public verification."""
from __future__ import annotations

from flask import request
from flask_babel import gettext as _

from rating import clock
from rating.errors import ValidationFailed
from rating.extensions import limiter
from rating.models import RatingStatus, Role
from rating.services import ratings
from rating.views.api import api_user, bp, json_body, token_required


def rating_json(rating) -> dict:
    enterprise = rating.enterprise
    return {
        "certificate_no": rating.certificate_no,
        "enterprise": {"id": enterprise.id, "name": enterprise.name, "uscc": enterprise.uscc,
                       "district_code": enterprise.district_code},
        "level": rating.level,
        "batch": rating.batch.name if rating.batch else None,
        "year": rating.year,
        "granted_on": rating.granted_on.isoformat(),
        "valid_until": rating.valid_until.isoformat(),
        "status": rating.status_on(clock.today()),
    }


def _int_arg(name: str, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ValidationFailed(_("查询参数 %(name)s 不正确。", name=name), {name: [_("请输入 %(low)s 到 %(high)s 之间的整数。", low=low, high=high)]})
    return value


@bp.get("/ratings")
@token_required()
def list_ratings():
    status = request.args.get("status") or None
    if status is not None and status not in RatingStatus.values():
        raise ValidationFailed(_("状态不正确。"), {"status": [_("应为 valid、revoked、superseded 或 expired。")]})
    codes = {key: (request.args.get(key) or None) for key in ("city", "district")}
    for key, value in codes.items():
        if value is not None and (len(value) != 6 or not value.isdigit()):
            raise ValidationFailed(_("行政区划代码应为 6 位数字。"), {key: [_("行政区划代码应为 6 位数字。")]})
    q = (request.args.get("q") or "").strip()[:100] or None
    page = _int_arg("page", 1, 100_000) or 1
    items, total = ratings.search(api_user(), city=codes["city"], district=codes["district"],
                                  level=_int_arg("level", 1, 9), year=_int_arg("year", 1990, 2100), status=status,
                                  q=q, page=page)
    return {"items": [rating_json(r) for r in items], "total": total, "page": page}


@bp.get("/ratings/<certificate_no>")
@token_required()
def show_rating(certificate_no: str):
    rating = ratings.visible(api_user(), certificate_no)
    # Certificates are rendered by the next piece of work (issue 4): until then every one is pending.
    return {**rating_json(rating), "status_reason": rating.status_reason,
            "status_changed_on": rating.status_changed_on.isoformat() if rating.status_changed_on else None,
            "certificate": {"state": "pending", "sha256": None, "size": None}}


@bp.post("/ratings/<certificate_no>/revoke")
@token_required(Role.official, Role.admin)
def revoke_rating(certificate_no: str):
    body = json_body()
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 4000:
        raise ValidationFailed(_("请填写撤销原因。"), {"reason": [_("请填写撤销原因（不超过 4000 字）。")]})
    flags = {key: body.get(key) is True for key in ("blacklist_enterprise", "blacklist_provider")}
    rating = ratings.revoke(api_user(), certificate_no, reason, **flags)
    return {"status": rating.status}


@bp.get("/verify/<certificate_no>")
@limiter.limit("120 per minute")
def verify(certificate_no: str):
    return ratings.verification(ratings.by_number(certificate_no))
