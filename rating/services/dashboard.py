"""The officials' dashboard: their jurisdiction's headline figure and rank, the table of
the divisions below it, and the trend by year and level.

Everything is computed from the committed ratings when the page is asked for (the same
rules as `totals`), so a grant or a revocation shows as soon as it commits; the page
says when its figures were computed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from rating import clock
from rating.extensions import db
from rating.models import Enterprise, Jurisdiction, JurisdictionLevel, Rating
from rating.permissions import inside
from rating.services import totals

LEVELS = (3, 4, 5)
TREND_YEARS = 6


@dataclass(frozen=True)
class Headline:
    count: int
    rank: int | None          # among the divisions of its kind in the province (None: the province)
    of: int                   # how many such divisions
    rank_in_city: int | None  # a county's rank among its city's counties
    of_in_city: int


@dataclass(frozen=True)
class TableRow:
    key: str
    name: str
    by_level: dict[int, int]
    count: int
    rank: int


@dataclass(frozen=True)
class Dashboard:
    scope: Jurisdiction
    on: date
    level: int | None
    computed_at: datetime
    headline: Headline
    by_level: dict[int, int]              # firms by highest level in the scope
    rows: list[TableRow]                  # the divisions below the scope (a county: none)
    row_kind: str                         # "city" | "district"
    years: list[int]
    stock: dict[int, dict[int, int]]      # level → year → firms holding it at the year's end (or `on`)
    granted: dict[int, dict[int, int]]    # level → year → ratings granted for that year (any status now)


def build(scope: Jurisdiction, on: date, level: int | None = None) -> Dashboard:
    province = scope.province_code
    if scope.level == JurisdictionLevel.province:
        own = totals.compute("city", on, level=level, province_code=province)
        headline = Headline(own.total, None, 0, None, 0)
        rows, kind = _rows("city", on, level, province, None), "city"
    elif scope.level == JurisdictionLevel.city:
        cities = totals.compute("city", on, level=level, province_code=province).rows
        mine = next((r for r in cities if r.key == scope.code), None)
        headline = Headline(mine.count if mine else 0, mine.rank if mine else None, len(cities), None, 0)
        rows, kind = _rows("district", on, level, province, scope.code), "district"
    else:
        counties = totals.compute("district", on, level=level, province_code=province).rows
        in_city = totals.compute("district", on, level=level, city=scope.city_code, province_code=province).rows
        mine = next((r for r in counties if r.key == scope.code), None)
        mine_in_city = next((r for r in in_city if r.key == scope.code), None)
        headline = Headline(mine.count if mine else 0, mine.rank if mine else None, len(counties),
                            mine_in_city.rank if mine_in_city else None, len(in_city))
        rows, kind = [], "district"
    by_level = _top_levels(scope, on)
    years = list(range(on.year - TREND_YEARS + 1, on.year + 1))
    stock = {lv: {} for lv in LEVELS}
    for year in years:
        day = on if year == on.year else date(year, 12, 31)
        for lv, n in _top_levels(scope, day).items():
            stock[lv][year] = n
    return Dashboard(scope=scope, on=on, level=level, computed_at=clock.now(), headline=headline,
                     by_level=by_level, rows=rows, row_kind=kind, years=years, stock=stock,
                     granted=_granted(scope, years))


def _rows(group_by: str, on: date, level: int | None, province: str, city: str | None) -> list[TableRow]:
    overall = totals.compute(group_by, on, level=level, city=city, province_code=province)
    per_level = {lv: {r.key: r.count for r in totals.compute(group_by, on, level=lv, city=city,
                                                               province_code=province).rows}
                 for lv in LEVELS}
    rows = [TableRow(r.key, r.name, {lv: per_level[lv].get(r.key, 0) for lv in LEVELS}, r.count, r.rank)
            for r in overall.rows]
    return sorted(rows, key=lambda r: (r.rank, r.key))


def _scoped(query):
    return (query.join(Enterprise, Enterprise.id == Rating.enterprise_id)
            .join(Jurisdiction, Jurisdiction.code == Enterprise.district_code))


def _top_levels(scope: Jurisdiction, day: date) -> dict[int, int]:
    """Firms of the scope by their highest level valid on `day`."""
    held = (_scoped(select(Rating.enterprise_id, func.max(Rating.level).label("top")))
            .where(totals.valid_on(day), inside(scope)).group_by(Rating.enterprise_id).subquery())
    counts = dict(db.session.execute(select(held.c.top, func.count()).group_by(held.c.top)).all())
    return {lv: counts.get(lv, 0) for lv in LEVELS}


def _granted(scope: Jurisdiction, years: list[int]) -> dict[int, dict[int, int]]:
    rows = db.session.execute(
        _scoped(select(Rating.level, Rating.year, func.count()))
        .where(inside(scope), Rating.year.between(years[0], years[-1]))
        .group_by(Rating.level, Rating.year)).all()
    granted = {lv: {year: 0 for year in years} for lv in LEVELS}
    for lv, year, n in rows:
        granted.setdefault(lv, {y: 0 for y in years})[year] = n
    return granted


# Charts (server-rendered SVG: no script, nothing fetched) -----------------------------

@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Series:
    level: int
    points: list[tuple[float, float, int, int]]   # x, y, year, value

    @property
    def path(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y, _year, _value in self.points)


CHART_W, CHART_H, PAD_L, PAD_B, PAD_T = 640, 260, 44, 48, 16


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    step = 10 ** (len(str(value)) - 1)
    return ((value + step - 1) // step) * step


def bars(board: Dashboard) -> tuple[list[Bar], int]:
    """Bars of the divisions below the scope (a county: of its levels)."""
    pairs = [(r.name, r.count) for r in board.rows] or [(f"{lv}★", n) for lv, n in board.by_level.items()]
    top = _nice_max(max((value for _label, value in pairs), default=0))
    inner_w, inner_h = CHART_W - PAD_L - 8, CHART_H - PAD_B - PAD_T
    slot = inner_w / max(len(pairs), 1)
    result = []
    for i, (label, value) in enumerate(pairs):
        height = inner_h * value / top
        result.append(Bar(label, value, PAD_L + i * slot + slot * 0.15, PAD_T + inner_h - height, slot * 0.7, height))
    return result, top


def lines(board: Dashboard) -> tuple[list[Series], int]:
    top = _nice_max(max((n for per_year in board.stock.values() for n in per_year.values()), default=0))
    inner_w, inner_h = CHART_W - PAD_L - 16, CHART_H - PAD_B - PAD_T
    step = inner_w / max(len(board.years) - 1, 1)
    series = []
    for lv in LEVELS:
        points = [(PAD_L + i * step, PAD_T + inner_h - inner_h * board.stock[lv].get(year, 0) / top, year,
                   board.stock[lv].get(year, 0)) for i, year in enumerate(board.years)]
        series.append(Series(lv, points))
    return series, top
