"""Materialised counts for the dashboards: per day, district and level, the firms whose
highest valid rating that day is that level (the rule of `totals.valid_on`).

Stored days are today and the year ends the trend shows. A day is filled on first use;
so are the ratings granted per district, level and year (the trend's other half, any
status now), all districts at once. A fill runs in a session and transaction of its own,
so the page that needs it stays a read-only request (`rating.readonly`) and the caller's
session keeps its state. A grant or a revocation recomputes its district's
rows of every stored day, and its granted counts, inside its own transaction (so the
dashboard is right as soon as it commits), and an import, which can change the past,
drops them all. On PostgreSQL all of this takes one
transaction-scoped advisory lock, so a fill and a grant never interleave: whichever
comes second sees what the first committed.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from rating import clock
from rating.extensions import db
from rating.models import (CountedDay, CountedGrants, DistrictGrantCount, DistrictLevelCount, Enterprise,
                           Jurisdiction, Rating)
from rating.permissions import inside
from rating.services.reporting.totals import valid_on

_LOCK = text("SELECT pg_advisory_xact_lock(5310)")  # any constant of ours


def _lock(session=None) -> None:
    if db.engine.dialect.name == "postgresql":
        (session or db.session).execute(_LOCK)


def _insert(model):
    return (pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert)(model)


def _claim(session: Session, statement) -> bool:
    """Whether this transaction's insert-or-nothing made the marker row: the row it returns.
    (The ORM's result of a plain insert reports a row count of -1 on psycopg, which read as
    "claimed" and let every concurrent first request fill the same counts.)"""
    return session.execute(statement).first() is not None


@contextmanager
def _fill() -> Iterator[Session]:
    """A session of its own, in a transaction committed at the end (rolled back on error),
    holding the lock: a fill sees what any grant committed before it."""
    with Session(db.engine) as session, session.begin():
        _lock(session)
        yield session


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
    now = clock.now()
    with _fill() as session:
        claimed = _claim(session, _insert(CountedDay).values(day=day, computed_at=now)
                         .on_conflict_do_nothing(index_elements=["day"]).returning(CountedDay.day))
        counts = {(d, lv): n for d, lv, n in session.execute(_counts(day))}
        if claimed:
            if counts:
                session.execute(_insert(DistrictLevelCount), [
                    {"day": day, "district_code": d, "level": lv, "firms": n} for (d, lv), n in counts.items()])
            # Yesterday's "today" is no longer shown: keep only the days the dashboards use.
            keep = stored_days(clock.today(), 6) | {day}
            old = [d for d in session.execute(select(CountedDay.day)).scalars() if d not in keep]
            if old:
                session.execute(delete(DistrictLevelCount).where(DistrictLevelCount.day.in_(old)))
                session.execute(delete(CountedDay).where(CountedDay.day.in_(old)))
    return counts, now


def _grant_counts(district: str | None = None):
    """(district, level, year, ratings) from the ratings, whatever their status."""
    query = (select(Enterprise.district_code, Rating.level, Rating.year, func.count())
             .join(Enterprise, Enterprise.id == Rating.enterprise_id))
    if district is not None:
        query = query.where(Enterprise.district_code == district)
    return query.group_by(Enterprise.district_code, Rating.level, Rating.year)


def _grant_rows(district: str | None = None, session=None) -> list[dict]:
    return [{"district_code": d, "level": lv, "year": year, "ratings": n}
            for d, lv, year, n in (session or db.session).execute(_grant_counts(district))]


def granted(scope: Jurisdiction, first_year: int, last_year: int) -> dict[tuple[int, int], int]:
    """{(level, year): ratings granted for that year} in `scope` (any status now), from the
    stored counts (filled now, in a session of their own, when absent): a few hundred
    indexed rows instead of a scan of every rating."""
    if db.session.execute(select(CountedGrants.id)).first() is None:
        with _fill() as session:
            claimed = _claim(session, _insert(CountedGrants).values(id=1, computed_at=clock.now())
                             .on_conflict_do_nothing(index_elements=["id"]).returning(CountedGrants.id))
            if claimed:
                rows = _grant_rows(session=session)
                if rows:
                    session.execute(_insert(DistrictGrantCount), rows)
    rows = db.session.execute(
        select(DistrictGrantCount.level, DistrictGrantCount.year, func.sum(DistrictGrantCount.ratings))
        .join(Jurisdiction, Jurisdiction.code == DistrictGrantCount.district_code)
        .where(inside(scope), DistrictGrantCount.year.between(first_year, last_year))
        .group_by(DistrictGrantCount.level, DistrictGrantCount.year))
    return {(lv, year): int(n) for lv, year, n in rows}


def refresh_district(district: str) -> None:
    """Recompute one district's stored rows, inside the caller's transaction (a grant, a
    revocation, a firm moving): call it after the change, before the commit."""
    _lock()
    days = list(db.session.execute(select(CountedDay.day)).scalars())
    now = clock.now()
    if db.session.execute(select(CountedGrants.id)).first() is not None:
        db.session.execute(delete(DistrictGrantCount).where(DistrictGrantCount.district_code == district))
        rows = _grant_rows(district)
        if rows:
            db.session.execute(_insert(DistrictGrantCount), rows)
        db.session.execute(update(CountedGrants).values(computed_at=now))
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
    db.session.execute(delete(DistrictGrantCount))
    db.session.execute(delete(CountedGrants))
