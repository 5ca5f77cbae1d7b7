"""Approval quotas per batch, county and level (e.g. Jinan: 3★ at most 3% of a county's base)."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select

from rating import clock
from rating.errors import Forbidden, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import BatchQuota, Jurisdiction, JurisdictionLevel, User
from rating.platform import audit
from rating.services.reference import get_batch, edition_of_batch
from rating.permissions import is_official


def set_quota(user: User, batch_id: int, district_code: str, level: int, max_count: int | None = None,
              percent: Decimal | None = None, base_count: int | None = None) -> BatchQuota:
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
    if percent is not None and (base_count is None or not Decimal(0) < percent <= Decimal(100)):
        raise ValidationFailed(_("按比例设置名额时，请填写 0 到 100 之间的比例和基数。"),
                               {"percent": [_("比例应在 0 到 100 之间，并填写基数。")]})
    quota = db.session.execute(
        select(BatchQuota).where(BatchQuota.batch_id == batch.id, BatchQuota.district_code == district_code,
                                 BatchQuota.level == level).with_for_update(key_share=True)
    ).scalar_one_or_none()
    if quota is None:
        quota = BatchQuota(batch_id=batch.id, district_code=district_code, level=level)
        db.session.add(quota)
    quota.max_count, quota.percent = max_count, percent
    quota.base_count = base_count if percent is not None else None
    quota.set_by_id, quota.set_at = user.id, clock.now()
    db.session.flush()
    audit.append("quota.set", "batch", batch.id, user.id, district_code=district_code, level=level,
                 max_count=max_count, percent=str(percent) if percent is not None else None,
                 base_count=quota.base_count, cap=quota.cap)
    return quota
