"""The officials' dashboard: their jurisdiction's headline figure and rank, the table of
the divisions below it, and the trend by year and level.

Everything is read from counts materialised per district (`aggregates`: firms by highest
valid level on the days shown, ratings granted per level and year), filled on first use,
recomputed inside the transaction of every grant and revocation and dropped by an import
(the same rules as `totals`), so a change shows as soon as it commits; the page says when
its figures were computed. Built on each request: a handful of indexed reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from rating import clock
from rating.extensions import db
from rating.models import Jurisdiction, JurisdictionLevel
from rating.rules.ranks import competition_ranks
from rating.services.reference import all_levels
from rating.services.reporting import aggregates

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
    levels: tuple[int, ...]               # the star levels shown: those of the guide editions loaded
    computed_at: datetime
    headline: Headline
    by_level: dict[int, int]              # firms by highest level in the scope
    rows: list[TableRow]                  # the divisions below the scope (a county: none)
    row_kind: JurisdictionLevel           # what the rows are: cities or counties
    years: list[int]
    stock: dict[int, dict[int, int]]      # level → year → firms holding it at the year's end (or `on`)
    granted: dict[int, dict[int, int]]    # level → year → ratings granted for that year (any status now)


def build(scope: Jurisdiction, on: date, level: int | None = None) -> Dashboard:
    """The dashboard of `scope` on `on`, from the materialised district × level counts
    (`aggregates`) of `on` and of the trend's year ends: a handful of indexed reads,
    whatever the number of ratings."""
    today = clock.today()
    counts, computed_at = aggregates.day_counts(on, store=on in aggregates.stored_days(today, TREND_YEARS))
    divisions = _divisions(scope.province_code)
    counties = [c for c, (lv, _name, _city) in divisions.items() if lv == JurisdictionLevel.county]
    cities = [c for c, (lv, _name, _city) in divisions.items() if lv == JurisdictionLevel.city]
    levels = all_levels()

    def firms(district: str, lv: int | None = level) -> int:
        if lv is not None:
            return counts.get((district, lv), 0)
        return sum(counts.get((district, each), 0) for each in levels)

    by_county = {c: firms(c) for c in counties}
    by_city = {c: sum(n for d, n in by_county.items() if divisions[d][2] == c) for c in cities}
    if scope.level == JurisdictionLevel.province:
        headline = Headline(sum(by_county.values()), None, 0, None, 0)
        rows = _table(cities, by_city, divisions, levels, lambda code, lv: sum(
            firms(d, lv) for d in counties if divisions[d][2] == code))
        kind = JurisdictionLevel.city
    elif scope.level == JurisdictionLevel.city:
        ranks = competition_ranks(by_city)
        headline = Headline(by_city.get(scope.code, 0), ranks.get(scope.code), len(cities), None, 0)
        mine = [d for d in counties if divisions[d][2] == scope.code]
        rows = _table(mine, {d: by_county[d] for d in mine}, divisions, levels, firms)
        kind = JurisdictionLevel.county
    else:
        in_city = {d: n for d, n in by_county.items() if divisions[d][2] == scope.city_code}
        headline = Headline(by_county.get(scope.code, 0), competition_ranks(by_county).get(scope.code),
                            len(counties), competition_ranks(in_city).get(scope.code), len(in_city))
        rows, kind = [], JurisdictionLevel.county
    inside_scope = [d for d in counties if scope.level == JurisdictionLevel.province
                    or (scope.level == JurisdictionLevel.city and divisions[d][2] == scope.code) or d == scope.code]
    by_level = {lv: sum(firms(d, lv) for d in inside_scope) for lv in levels}

    years = list(range(on.year - TREND_YEARS + 1, on.year + 1))
    stock = {lv: {} for lv in levels}
    for year in years:
        day = on if year == on.year else date(year, 12, 31)
        day_counts = counts if day == on else aggregates.day_counts(
            day, store=day in aggregates.stored_days(today, TREND_YEARS))[0]
        for lv in levels:
            stock[lv][year] = sum(day_counts.get((d, lv), 0) for d in inside_scope)
    return Dashboard(scope=scope, on=on, level=level, levels=levels, computed_at=computed_at,
                     headline=headline, by_level=by_level, rows=rows, row_kind=kind, years=years, stock=stock,
                     granted=_granted(scope, years, levels))


def _divisions(province: str) -> dict[str, tuple[str, str, str | None]]:
    """code → (level, name, city code) for the province's cities and counties."""
    return {code: (lv, name, city) for code, lv, name, city in db.session.execute(
        select(Jurisdiction.code, Jurisdiction.level, Jurisdiction.name, Jurisdiction.city_code)
        .where(Jurisdiction.province_code == province, Jurisdiction.level != JurisdictionLevel.province))}


def _table(codes: list[str], totals_by_code: dict[str, int], divisions, levels: tuple[int, ...],
           per_level) -> list[TableRow]:
    ranks = competition_ranks(totals_by_code)
    rows = [TableRow(code, divisions[code][1], {lv: per_level(code, lv) for lv in levels}, totals_by_code[code],
                     ranks[code]) for code in codes]
    return sorted(rows, key=lambda r: (r.rank, r.key))


def _granted(scope: Jurisdiction, years: list[int], levels: tuple[int, ...]) -> dict[int, dict[int, int]]:
    """Ratings granted per level and year in the scope (any status now), from the stored
    per-district counts (`aggregates.granted`)."""
    counts = aggregates.granted(scope, years[0], years[-1])
    granted = {lv: {year: 0 for year in years} for lv in levels}
    for (lv, year), n in counts.items():
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
    """The top of a chart's axis: the least of 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, …
    that holds `value`. Even, so that its half (the middle grid line, `ticks`) is a whole
    number a reader can take in at a glance: 0 / 4 / 8, not 0 / 3 / 7."""
    scale = 1
    while True:
        for top in (2 * scale, 4 * scale, 6 * scale, 8 * scale, 10 * scale):
            if top >= max(value, 4):
                return top
        scale *= 10


def ticks(top: int) -> tuple[int, int, int]:
    """The labelled grid lines of an axis whose top is `top` (from `_nice_max`)."""
    return 0, top // 2, top


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
    for lv in board.levels:
        points = [(PAD_L + i * step, PAD_T + inner_h - inner_h * board.stock[lv].get(year, 0) / top, year,
                   board.stock[lv].get(year, 0)) for i, year in enumerate(board.years)]
        series.append(Series(lv, points))
    return series, top
