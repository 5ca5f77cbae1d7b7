"""Materialised counts for the dashboards: per day, district and level, the firms whose
highest valid rating that day is that level (the rule of `totals.valid_on`).

Stored days are today and the year ends the trend shows. A day is filled on first use;
a grant or a revocation recomputes its district's rows of every stored day inside its
own transaction (so the dashboard is right as soon as it commits), and an import, which
can change the past, drops every stored day. On PostgreSQL all of this takes one
transaction-scoped advisory lock, so a fill and a grant never interleave: whichever
comes second sees what the first committed.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from rating import clock
from rating.extensions import db
from rating.models import CountedDay, DistrictLevelCount, Enterprise, Rating
from rating.services.totals import valid_on

_LOCK = text("SELECT pg_advisory_xact_lock(5310)")  # any constant of ours


def _lock() -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(_LOCK)


def _insert(model):
    return (pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert)(model)


def _counts(day: date, district: str | None = None):
    """(district, level, firms) for `day`, from the ratings."""
    held = (select(Rating.enterprise_id, Enterprise.district_code.label("district"),
                   func.max(Rating.level).label("top"))
            .join(Enterprise, Enterprise.id == Rating.enterprise_id).where(valid_on(day)))
    if district is not None:
        held = held.where(Enterprise.district_code == district)
    held = held.group_by(Rating.enterprise_id, Enterprise.district_code).subquery()
    return select(held.c.district, held.c.top, func.count()).group_by(held.c.district, held.c.top)


def stored_days(today: date, years: int) -> set[date]:
    return {today} | {date(today.year - n, 12, 31) for n in range(1, years)}


def day_counts(day: date, store: bool) -> tuple[dict[tuple[str, int], int], datetime]:
    """{(district, level): firms} on `day`, and when it was computed. Stored days are read
    from the table (filled now when absent); any other day is computed and not kept."""
    found = db.session.get(CountedDay, day)
    if found is not None:
        rows = db.session.execute(select(DistrictLevelCount.district_code, DistrictLevelCount.level,
                                         DistrictLevelCount.firms).where(DistrictLevelCount.day == day))
        return {(d, lv): n for d, lv, n in rows}, found.computed_at
    if not store:
        return {(d, lv): n for d, lv, n in db.session.execute(_counts(day))}, clock.now()
    db.session.rollback()          # a fresh transaction, so the lock's snapshot is current
    _lock()
    now = clock.now()
    claimed = db.session.execute(_insert(CountedDay).values(day=day, computed_at=now)
                                 .on_conflict_do_nothing(index_elements=["day"])).rowcount
    counts = {(d, lv): n for d, lv, n in db.session.execute(_counts(day))}
    if claimed:
        if counts:
            db.session.execute(_insert(DistrictLevelCount), [
                {"day": day, "district_code": d, "level": lv, "firms": n} for (d, lv), n in counts.items()])
        # Yesterday's "today" is no longer shown: keep only the days the dashboards use.
        keep = stored_days(clock.today(), 6) | {day}
        old = [d for d in db.session.execute(select(CountedDay.day)).scalars() if d not in keep]
        if old:
            db.session.execute(delete(DistrictLevelCount).where(DistrictLevelCount.day.in_(old)))
            db.session.execute(delete(CountedDay).where(CountedDay.day.in_(old)))
    db.session.commit()
    return counts, now


def refresh_district(district: str) -> None:
    """Recompute one district's stored rows, inside the caller's transaction (a grant, a
    revocation): call it after the change, before the commit."""
    _lock()
    days = list(db.session.execute(select(CountedDay.day)).scalars())
    now = clock.now()
    for day in days:
        db.session.execute(delete(DistrictLevelCount).where(DistrictLevelCount.day == day,
                                                            DistrictLevelCount.district_code == district))
        rows = [{"day": day, "district_code": d, "level": lv, "firms": n}
                for d, lv, n in db.session.execute(_counts(day, district))]
        if rows:
            db.session.execute(_insert(DistrictLevelCount), rows)
    if days:
        db.session.execute(update(CountedDay).values(computed_at=now))


def refresh_firm(enterprise_id: int) -> None:
    district = db.session.execute(select(Enterprise.district_code).where(Enterprise.id == enterprise_id)
                                  ).scalar_one_or_none()
    if district is not None:
        refresh_district(district)


def drop_all() -> None:
    """Forget every stored day (an import may have changed any of them); inside the caller's
    transaction."""
    _lock()
    db.session.execute(delete(DistrictLevelCount))
    db.session.execute(delete(CountedDay))
