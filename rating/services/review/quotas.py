"""Approval quotas per batch, county and level (e.g. Jinan: 3★ at most 3% of a county's base)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select

from rating import clock
from rating.errors import Conflict, Forbidden, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import Application, BatchQuota, Enterprise, Jurisdiction, JurisdictionLevel, User
from rating.platform import audit
from rating.services.reference import get_batch, edition_of_batch
from rating.permissions import inside, is_official
from rating.services.review.reviews import APPROVED_OR_LATER


BASE_SOURCES = ("typed", "firms")


def registered_firms(district_code: str) -> int:
    """A county's registered cloud-adopting firms: the base a percentage may be taken from."""
    return db.session.execute(select(func.count()).select_from(Enterprise)
                              .where(Enterprise.district_code == district_code)).scalar_one()


def used_counts(batch_id: int, district_codes: list[str] | None = None) -> dict[tuple[str, int], int]:
    """(county, level) → applications of the batch approved or later (what a cap counts)."""
    query = (select(Enterprise.district_code, Application.target_level, func.count())
             .join(Enterprise, Enterprise.id == Application.enterprise_id)
             .where(Application.batch_id == batch_id, Application.status.in_(APPROVED_OR_LATER))
             .group_by(Enterprise.district_code, Application.target_level))
    if district_codes is not None:
        query = query.where(Enterprise.district_code.in_(district_codes))
    return {(code, level): count for code, level, count in db.session.execute(query)}


@dataclass(frozen=True)
class QuotaRow:
    quota: BatchQuota
    used: int

    @property
    def remaining(self) -> int:
        return max(self.quota.cap - self.used, 0)


def counties_in_scope(user: User) -> list[Jurisdiction]:
    query = select(Jurisdiction).where(Jurisdiction.level == JurisdictionLevel.county).order_by(Jurisdiction.code)
    if user.jurisdiction is not None:
        query = query.where(inside(user.jurisdiction))
    return list(db.session.execute(query).scalars())


def quotas_of(user: User, batch_id: int) -> list[QuotaRow]:
    """The batch's quotas in the caller's scope with what each has used (two queries)."""
    if not is_official(user):
        raise Forbidden(_("只有主管部门人员可以查看名额。"))
    batch = get_batch(batch_id)
    query = (select(BatchQuota).join(Jurisdiction, Jurisdiction.code == BatchQuota.district_code)
             .where(BatchQuota.batch_id == batch.id).order_by(BatchQuota.district_code, BatchQuota.level))
    if user.jurisdiction is not None:
        query = query.where(inside(user.jurisdiction))
    quotas = list(db.session.execute(query).scalars())
    used = used_counts(batch.id, sorted({q.district_code for q in quotas}))
    return [QuotaRow(q, used.get((q.district_code, q.level), 0)) for q in quotas]


def batch_levels(batch) -> list[int]:
    """The levels a quota may be set for: those of the batch's guide edition."""
    return sorted(edition_of_batch(batch.edition_code).levels)


def set_quota(user: User, batch_id: int, district_code: str, level: int, max_count: int | None = None,
              percent: Decimal | None = None, base_count: int | None = None,
              base_source: str = "typed") -> BatchQuota:
    if not is_official(user):
        raise Forbidden(_("只有主管部门人员可以设置名额。"))
    batch = get_batch(batch_id)
    district = db.session.get(Jurisdiction, district_code)
    if district is None or district.level != JurisdictionLevel.county:
        raise ValidationFailed(_("请指定县级行政区划代码。"), {"district_code": [_("不是县级行政区划。")]})
    if user.jurisdiction is not None and not user.jurisdiction.contains(district):
        raise NotFound(_("未找到该地区。"))
    if level not in edition_of_batch(batch.edition_code).levels:
        raise ValidationFailed(_("星级不正确。"), {"level": [_("星级不正确。")]})
    if (max_count is None) == (percent is None):
        raise ValidationFailed(_("请填写名额数，或填写比例和基数。"), {"max_count": [_("名额数与比例只能填写一项。")]})
    if base_source not in BASE_SOURCES:
        raise ValidationFailed(_("基数来源不正确。"), {"base_source": [_("基数来源不正确。")]})
    if percent is not None and base_source == "firms":
        base_count = registered_firms(district_code)
    if percent is not None and (base_count is None or not Decimal(0) < percent <= Decimal(100)):
        raise ValidationFailed(_("按比例设置名额时，请填写 0 到 100 之间的比例和基数。"),
                               {"percent": [_("比例应在 0 到 100 之间，并填写基数。")]})
    quota = db.session.execute(
        select(BatchQuota).where(BatchQuota.batch_id == batch.id, BatchQuota.district_code == district_code,
                                 BatchQuota.level == level).with_for_update(key_share=True)
    ).scalar_one_or_none()
    before = quota.cap if quota is not None else None
    if quota is None:
        quota = BatchQuota(batch_id=batch.id, district_code=district_code, level=level)
        db.session.add(quota)
    quota.max_count, quota.percent = max_count, percent
    quota.base_count = base_count if percent is not None else None
    quota.base_source = base_source if percent is not None else None
    used = used_counts(batch.id, [district_code]).get((district_code, level), 0)
    if quota.cap < used:
        raise Conflict(_("%(county)s本批次%(level)s星级已通过 %(used)s 家，名额不能低于已通过数（拟设 %(cap)s 家）。",
                         county=district.name, level=level, used=used, cap=quota.cap),
                       {"max_count" if max_count is not None else "percent":
                        [_("已通过 %(used)s 家，拟设 %(cap)s 家。", used=used, cap=quota.cap)]})
    quota.set_by_id, quota.set_at = user.id, clock.now()
    db.session.flush()
    audit.append("quota.set", "batch", batch.id, user.id, district_code=district_code, level=level,
                 max_count=max_count, percent=str(percent) if percent is not None else None,
                 base_count=quota.base_count, base_source=quota.base_source, cap=quota.cap, previous_cap=before)
    return quota
