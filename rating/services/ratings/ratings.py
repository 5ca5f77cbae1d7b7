"""Ratings: certificate numbers, the scoped list, revocation and public verification.

A certificate number is `<province>-<year>-<batch>-<level>-<serial>` (e.g.
`JS-2024-1-5-000123`); the serial counts per province and year and moves in the grant's
own transaction, so a grant that rolls back or is retried leaves no gap.
"""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import Select, false, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import contains_eager, selectinload

from rating import clock
from rating.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import (
    CertificateSerial,
    CloudService,
    Disbursement,
    Enterprise,
    Jurisdiction,
    Rating,
    RatingStatus,
    User,
)
from rating.permissions import can_see_ratings, is_official, scope_ratings
from rating.platform import audit
from rating.services.ratings import certificates
from rating.services.reporting import aggregates
from rating.services.review import blacklist

# GB/T 2260 province prefixes and their usual letter codes.
PROVINCE_LETTERS = {
    "11": "BJ", "12": "TJ", "13": "HE", "14": "SX", "15": "NM", "21": "LN", "22": "JL", "23": "HL",
    "31": "SH", "32": "JS", "33": "ZJ", "34": "AH", "35": "FJ", "36": "JX", "37": "SD", "41": "HA",
    "42": "HB", "43": "HN", "44": "GD", "45": "GX", "46": "HI", "50": "CQ", "51": "SC", "52": "GZ",
    "53": "YN", "54": "XZ", "61": "SN", "62": "GS", "63": "QH", "64": "NX", "65": "XJ",
}


def next_serial(province_code: str, year: int) -> int:
    """Take the next serial for the province and year inside the current transaction."""
    values = {"province_code": province_code, "year": year, "last": 1}
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    statement = (insert(CertificateSerial).values(**values)
                 .on_conflict_do_update(index_elements=["province_code", "year"],
                                        set_={"last": CertificateSerial.last + 1})
                 .returning(CertificateSerial.last))
    return db.session.execute(statement).scalar_one()


def certificate_number(province_code: str, year: int, batch_number: int, level: int) -> str:
    letters = PROVINCE_LETTERS.get(province_code[:2], province_code[:2])
    return f"{letters}-{year}-{batch_number}-{level}-{next_serial(province_code, year):06d}"


def by_number(certificate_no: str) -> Rating:
    rating = None
    # PostgreSQL text cannot hold a NUL: no certificate number has one, and no query may send it.
    if isinstance(certificate_no, str) and len(certificate_no) <= 40 and "\x00" not in certificate_no:
        rating = db.session.execute(select(Rating).where(Rating.certificate_no == certificate_no)).scalar_one_or_none()
    if rating is None:
        raise NotFound(_("未找到该证书编号。"))
    return rating


def visible(user: User, certificate_no: str) -> Rating:
    rating = by_number(certificate_no)
    query = scope_ratings(select(Rating.id).join(Enterprise).join(Jurisdiction, Jurisdiction.code == Enterprise.district_code)
                    .where(Rating.id == rating.id), user)
    if db.session.execute(query).first() is None:
        raise NotFound(_("未找到该证书编号。"))
    return rating


def filtered(query: Select, user: User, *, city: str | None = None, district: str | None = None,
             level: int | None = None, year: int | None = None, status: str | None = None,
             q: str | None = None) -> Select:
    """The list's filters and the caller's scope on a query over Rating ⋈ Enterprise ⋈
    Jurisdiction (the list, the exports)."""
    today = clock.today()
    query = scope_ratings(query, user)
    if city:
        query = query.where(Jurisdiction.city_code == city)
    if district:
        query = query.where(Enterprise.district_code == district)
    if level is not None:
        query = query.where(Rating.level == level)
    if year is not None:
        query = query.where(Rating.year == year)
    if status == RatingStatus.expired:
        query = query.where(Rating.status == RatingStatus.valid, Rating.valid_until < today)
    elif status == RatingStatus.valid:
        query = query.where(Rating.status == RatingStatus.valid, Rating.valid_until >= today)
    elif status:
        query = query.where(Rating.status == status)
    if q and "\x00" in q:
        query = query.where(false())        # no name or code holds a NUL (nor may a query send one)
    elif q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Enterprise.name.like(pattern, escape="\\"), Enterprise.uscc == q.upper()))
    return query


def search(user: User, *, page: int = 1, per_page: int = 50, **filters) -> tuple[list[Rating], int]:
    query = filtered(select(Rating).join(Enterprise, Enterprise.id == Rating.enterprise_id)
                     .join(Jurisdiction, Jurisdiction.code == Enterprise.district_code), user, **filters)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    # The list shows each rating's firm, batch and certificate: loaded with the page, not row by row.
    items = db.session.execute(
        query.order_by(Rating.granted_on.desc(), Rating.id.desc()).offset((page - 1) * per_page).limit(per_page)
        .options(contains_eager(Rating.enterprise), selectinload(Rating.batch), selectinload(Rating.certificate))
    ).scalars().all()
    return list(items), total


def revoke(user: User, certificate_no: str, reason: str, blacklist_enterprise: bool = False,
           blacklist_provider: bool = False) -> Rating:
    """Revoke a rating and, on request, blacklist its firm and its cloud providers: one
    transaction, so a failure in any step leaves the rating valid and nobody blacklisted.
    A party already on the list is skipped."""
    if not is_official(user):
        raise Forbidden(_("只有主管部门人员可以撤销认定。"))
    rating = visible(user, certificate_no)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("请填写撤销原因。"), {"reason": [_("请填写撤销原因。")]})
    if rating.status == RatingStatus.revoked:
        raise Conflict(_("该认定已撤销。"))
    today = clock.today()
    # A reward not paid yet is not paid for a revoked rating.
    disbursement = Disbursement.withheld if rating.disbursement == Disbursement.due else rating.disbursement
    moved = db.session.execute(
        update(Rating).where(Rating.id == rating.id, Rating.status == rating.status)
        .values(status=RatingStatus.revoked, status_reason=reason, status_changed_on=today,
                disbursement=disbursement)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise Conflict(_("该认定已被他人修改，请刷新后重试。"))
    aggregates.refresh_firm(rating.enterprise_id)   # the dashboards' counts, in this transaction
    audit.append("rating.revoke", "rating", rating.id, user.id, certificate_no=rating.certificate_no,
                 reason=reason, blacklist_enterprise=blacklist_enterprise, blacklist_provider=blacklist_provider,
                 disbursement=disbursement)
    if blacklist_enterprise and not blacklist.listed(enterprise_id=rating.enterprise_id):
        blacklist.add(user, reason, enterprise_id=rating.enterprise_id)
    if blacklist_provider and rating.application_id is not None:
        providers = db.session.execute(select(CloudService.provider).distinct()
                                       .where(CloudService.application_id == rating.application_id)).scalars()
        for name in sorted({name.strip() for name in providers} - {""}):
            if not blacklist.listed(provider_name=name):
                blacklist.add(user, reason, provider_name=name)
    db.session.refresh(rating)
    return rating


def _official_in_scope(user: User, certificate_no: str) -> Rating:
    if not is_official(user):
        raise Forbidden(_("只有主管部门人员可以执行此操作。"))
    return visible(user, certificate_no)


def downloadable(user: User, certificate_no: str) -> Rating:
    """The rating whose certificate `user` may download: the firm itself, officials in scope."""
    if not can_see_ratings(user):
        raise Forbidden(_("证书仅供获评企业和主管部门下载。"))
    return visible(user, certificate_no)


def regenerate(user: User, certificate_no: str) -> Rating:
    """An official asks for the certificate to be rendered again (the old file stays until
    the new one is complete)."""
    rating = _official_in_scope(user, certificate_no)
    certificates.request_render(rating, user)
    db.session.flush()
    db.session.refresh(rating)
    if rating.certificate is not None:
        db.session.refresh(rating.certificate)
    return rating


def set_disbursement(user: User, certificate_no: str, state: str, paid_on: date | None, note: str | None = None
                     ) -> Rating:
    """Record where the reward's payment stands (due, paid on a date, withheld)."""
    rating = _official_in_scope(user, certificate_no)
    if state not in Disbursement.values():
        raise ValidationFailed(_("拨付状态不正确。"), {"state": [_("应为 due、paid 或 withheld。")]})
    if state == Disbursement.paid and paid_on is None:
        raise ValidationFailed(_("请填写拨付日期。"), {"disbursed_on": [_("请填写拨付日期。")]})
    if state == Disbursement.paid and paid_on > clock.today():
        raise ValidationFailed(_("拨付日期不能晚于今天。"), {"disbursed_on": [_("不能晚于今天。")]})
    if state == Disbursement.paid and rating.status == RatingStatus.revoked:
        raise Conflict(_("该认定已撤销，不能登记拨付。"))
    before = rating.disbursement
    moved = db.session.execute(
        update(Rating).where(Rating.id == rating.id, Rating.disbursement == before)
        .values(disbursement=state, disbursed_on=paid_on if state == Disbursement.paid else None)
        .execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise Conflict(_("该认定已被他人修改，请刷新后重试。"))
    audit.append("rating.disbursement", "rating", rating.id, user.id, certificate_no=rating.certificate_no,
                 from_state=before, to_state=state, disbursed_on=paid_on.isoformat() if paid_on else None,
                 note=(note or "").strip() or None)
    db.session.refresh(rating)
    return rating


def verification(rating: Rating, on: date | None = None) -> dict:
    on = on or clock.today()
    return {
        "certificate_no": rating.certificate_no,
        # What was certified, whatever the firm's record says since (a rename, a claimed import).
        "enterprise_name": rating.certified_name,
        "level": rating.level,
        "status": rating.status_on(on),
        "granted_on": rating.granted_on.isoformat(),
        "valid_until": rating.valid_until.isoformat(),
        "status_changed_on": rating.status_changed_on.isoformat() if rating.status_changed_on else None,
    }
