"""Bulk seeding for the review benchmarks: firms in every county, applications in review, reviewers."""
from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import insert, select, text

_SERIALS = itertools.count(500_000)


def counties() -> list[str]:
    from rating.extensions import db
    from rating.models import Jurisdiction

    return list(db.session.execute(
        select(Jurisdiction.code).where(Jurisdiction.level == "county").order_by(Jurisdiction.code)).scalars())


def applications_in_review(batch_id: int, count: int, stage: str | None = "county", chunk: int = 5000,
                           status: str = "in_review") -> list[int]:
    """`count` firms spread over every county, each with one application in review at `stage`
    (or, with another `status` and no stage, finished ones), scored as every submitted one is."""
    from rating import clock
    from rating.extensions import db
    from rating.models import Application, ApplicationScore, Batch, Enterprise
    from rating.services.reference import edition_of_batch
    from rating.rules.uscc import uscc_from_serial

    codes, now, ids = counties(), clock.now(), []
    edition = edition_of_batch(db.session.get(Batch, batch_id).edition_code)
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        serials = [next(_SERIALS) for _ in range(size)]
        firms = [{"name": f"基准企业{s}", "uscc": uscc_from_serial(s, division=codes[(start + n) % len(codes)]),
                  "district_code": codes[(start + n) % len(codes)], "industry": "C", "scale": "small",
                  "contact_name": "王工", "contact_phone": "0519-1234567", "email": f"q{s}@bench.test",
                  "created_at": now} for n, s in enumerate(serials)]
        firm_ids = db.session.execute(insert(Enterprise).returning(Enterprise.id), firms).scalars().all()
        rows = [{"enterprise_id": f, "batch_id": batch_id, "target_level": 3, "status": status, "stage": stage,
                 "answers": {}, "submission_round": 1, "submitted_at": now, "created_at": now, "updated_at": now,
                 "version": 3} for f in firm_ids]
        new = db.session.execute(insert(Application).returning(Application.id), rows).scalars().all()
        db.session.execute(insert(ApplicationScore), [
            {"application_id": a, "round": 1, "level": 3, "edition_code": edition.code,
             "edition_sha256": edition.sha256, "total": 72 + a % 20, "max": 100, "passed": True,
             "investment_yuan": 120_000, "usage_months": 8, "detail": {}, "scored_at": now} for a in new])
        ids.extend(new)
        db.session.commit()
    return ids


def reviewers(count: int, level: str = "county") -> dict[str, list[int]]:
    """`count` reviewers spread over the jurisdictions of `level` (round robin); code → ids."""
    from rating.extensions import db
    from rating.models import Jurisdiction, User
    from tests.support.factories import password_hash

    codes = list(db.session.execute(
        select(Jurisdiction.code).where(Jurisdiction.level == level).order_by(Jurisdiction.code)).scalars())
    rows = [{"email": f"r{n}@bench.test", "password_hash": password_hash(), "name": f"审核员{n}", "role": "reviewer",
             "jurisdiction_code": codes[n % len(codes)], "active": True, "failed_logins": 0} for n in range(count)]
    ids = db.session.execute(insert(User).returning(User.id, User.jurisdiction_code), rows).all()
    db.session.commit()
    by_code: dict[str, list[int]] = {}
    for user_id, code in ids:
        by_code.setdefault(code, []).append(user_id)
    return by_code


def analyze() -> None:
    """VACUUM ANALYZE everything just loaded: statistics for the planner, and nothing left
    for autovacuum to do during the measurement (its work on the fresh tables was counted
    as PostgreSQL's CPU per request, and an autoanalyze's catalog writes move the snapshot
    that the totals' and dashboards' caches are kept under)."""
    from rating.extensions import db

    if db.engine.dialect.name == "postgresql":
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


__all__ = ["applications_in_review", "reviewers", "counties", "analyze", "timedelta"]
