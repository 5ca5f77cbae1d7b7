"""Totals: how many firms hold a valid star rating on a date, grouped and ranked.

A rating is valid on a day when it was granted on or before it, has not passed its
`valid_until` (granted + validity − 1 day), and was not revoked or superseded by then
(`status_changed_on` on or before the day). A firm counts once per group, at its
highest valid level there (so a level filter asks "whose highest rating is N★"), except
when the groups are the levels themselves: then it counts in each level it validly
holds. Ranks are competition ranks (1 = most; ties share a rank, the next is skipped),
computed over every group of the province, so a city can say "rank k in the province"
whatever the filter on the rows shown. Everything is computed at request time from the
ratings as committed (no stored aggregates to drift), so concurrent grants and
revocations are counted as soon as they commit. A result is kept while the database is
unchanged (`cache`: the budget of the totals API's reads).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import and_, func, literal, or_, select

from rating.errors import ValidationFailed
from rating.extensions import db
from rating.models import Enterprise, Jurisdiction, JurisdictionLevel, Rating, RatingStatus
from rating.models.enums import INDUSTRY_SECTIONS
from rating.rules.ranks import competition_ranks
from rating.services.reference import all_levels
from rating.services.reporting import cache

GROUPS = ("city", "district", "level", "year", "industry")
# A firm is in exactly one group of these (its district decides its city), at its highest
# level overall: the total is then the sum of the groups' counts in scope.
ONE_GROUP_PER_FIRM = ("city", "district", "industry")
# The days figures may be asked for, as the year filters offer them: the dashboard's trend
# looks years back from the day, which a day near year 1 does not have.
FIRST_DAY, LAST_DAY = date(1990, 1, 1), date(2100, 12, 31)


@dataclass(frozen=True)
class Row:
    key: str
    name: str
    count: int
    rank: int


@dataclass(frozen=True)
class Totals:
    group_by: str
    rows: list[Row]
    total: int

    def as_json(self) -> dict:
        return {"group_by": self.group_by, "total": self.total,
                "rows": [{"key": r.key, "name": r.name, "count": r.count, "rank": r.rank} for r in self.rows]}


def valid_on(day: date):
    """SQL condition on Rating: valid on `day`."""
    return and_(Rating.granted_on <= day, Rating.valid_until >= day,
                or_(Rating.status == RatingStatus.valid, Rating.status_changed_on > day))


def _key(group_by: str):
    return {"city": Jurisdiction.city_code, "district": Enterprise.district_code, "level": Rating.level,
            "year": Rating.year, "industry": Enterprise.industry}[group_by]


def compute(group_by: str, on: date, level: int | None = None, year: int | None = None,
            city: str | None = None, province_code: str | None = None) -> Totals:
    if group_by not in GROUPS:
        raise ValidationFailed(_("分组方式不正确。"), {"group_by": [_("应为 city、district、level、year 或 industry。")]})
    key = ("totals", str(get_locale()), group_by, on, level, year, city, province_code)
    return cache.kept(key, lambda: _compute(group_by, on, level, year, city, province_code))


def _compute(group_by: str, on: date, level: int | None, year: int | None, city: str | None,
             province_code: str | None) -> Totals:
    """The figures from the ratings, always from the database."""
    province_code = province_code or _province()
    key = _key(group_by)
    # Ranks compare every city of the province, so a city filter does not narrow the
    # cities ranked; it narrows everything else, and the total.
    held = _held(key, on, province_code, year, None if group_by == "city" else city)
    counted = select(held.c.key, func.count().label("count"))
    if level is not None:
        counted = counted.where(held.c.top == level)
    # Firms imported from earlier lists may have no industry yet: they count as "unknown".
    counts = {"unknown" if k is None else str(k): n
              for k, n in db.session.execute(counted.group_by(held.c.key)).all()}

    # The total counts each firm once, at its highest valid level overall.
    if group_by in ONE_GROUP_PER_FIRM:
        total = counts.get(city, 0) if city is not None and group_by == "city" else sum(counts.values())
    else:
        scoped = _held(literal(0), on, province_code, year, city)
        firms = select(func.count(func.distinct(scoped.c.firm)))
        if level is not None:
            firms = firms.where(scoped.c.top == level)
        total = db.session.execute(firms).scalar_one()

    names = _names(group_by, counts, province_code, city)
    ranks = competition_ranks({k: counts.get(k, 0) for k in names})
    rows = [Row(key=k, name=names[k], count=counts.get(k, 0), rank=rank) for k, rank in ranks.items()]
    if city is not None and group_by == "city":
        rows = [r for r in rows if r.key == city]       # its rank stays the province's
    return Totals(group_by=group_by, rows=rows, total=total)


def _held(key, on: date, province_code: str, year: int | None, city: str | None):
    """(group key, firm, its highest valid level in that group) for ratings valid on `on`."""
    query = (select(key.label("key"), Rating.enterprise_id.label("firm"), func.max(Rating.level).label("top"))
             .join(Enterprise, Enterprise.id == Rating.enterprise_id)
             .join(Jurisdiction, Jurisdiction.code == Enterprise.district_code)
             .where(valid_on(on), Jurisdiction.province_code == province_code))
    if year is not None:
        query = query.where(Rating.year == year)
    if city is not None:
        query = query.where(Jurisdiction.city_code == city)
    return query.group_by(key, Rating.enterprise_id).subquery()


def _province() -> str:
    """The province the reference data describes (one per installation)."""
    return db.session.execute(select(Jurisdiction.code).where(Jurisdiction.level == JurisdictionLevel.province)
                              .order_by(Jurisdiction.code)).scalars().first() or ""


def _names(group_by: str, counts: dict[str, int], province_code: str, city: str | None) -> dict[str, str]:
    """Every group that should be listed, with its name: all cities (or the counties of a
    city) even when they count none, so that ranks cover the whole province."""
    if group_by in ("city", "district"):
        level = JurisdictionLevel.city if group_by == "city" else JurisdictionLevel.county
        query = select(Jurisdiction.code, Jurisdiction.name).where(Jurisdiction.level == level,
                                                                   Jurisdiction.province_code == province_code)
        if group_by == "district" and city is not None:
            query = query.where(Jurisdiction.city_code == city)
        names = dict(db.session.execute(query).all())
        return names | {k: k for k in counts if k not in names}
    if group_by == "level":
        return {k: _("%(n)s星级", n=k) for k in counts}
    if group_by == "year":
        return {k: _("%(year)s年度", year=k) for k in counts}
    return {k: _("行业未登记") if k == "unknown" else str(INDUSTRY_SECTIONS.get(k, k)) for k in counts}




@dataclass(frozen=True)
class LevelTable:
    """The published figures: per city, the firms whose highest valid level is each of `levels`."""
    on: date
    levels: tuple[int, ...]
    rows: list[tuple[str, str, dict[int, int], int, int]]   # code, name, by level, all, rank
    by_level: dict[int, int]
    total: int


def city_level_table(on: date) -> LevelTable:
    """Per city, the firms at each level of the guide editions loaded."""
    levels = all_levels()
    overall = compute("city", on)
    per_level = {level: {r.key: r.count for r in compute("city", on, level=level).rows} for level in levels}
    rows = [(r.key, r.name, {level: per_level[level].get(r.key, 0) for level in levels}, r.count, r.rank)
            for r in overall.rows]
    by_level = {level: sum(per_level[level].values()) for level in levels}
    return LevelTable(on=on, levels=levels, rows=rows, by_level=by_level, total=overall.total)
