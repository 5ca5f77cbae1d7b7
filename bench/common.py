"""Shared pieces of the benchmarks: throwaway servers, a migrated app, bulk seeding, timing."""
from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import statistics
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tests.support.faults.seed import typed_answer
from tests.support.mail import SmtpServer
from tests.support.servers import PostgresServer, RedisServer

RESULTS = Path(__file__).resolve().parent / "results"
_SERIALS = itertools.count(10_000)


@dataclass
class Servers:
    """What a benchmark runs on: the app (migrated, in this process), the environment its
    processes get, and the servers themselves (to stop, restart or count mail)."""

    app: Any
    env: dict
    postgres: PostgresServer
    redis: RedisServer
    smtp: SmtpServer | None
    instance: Path


@contextmanager
def servers(name: str, *, broker_db: int = 0, smtp: bool = False, settings: dict | None = None):
    """PostgreSQL + Redis (the broker on `broker_db`) of our own, with `smtp` an SMTP server
    too (the app's mail goes there), and the app migrated on them, `settings` added to its
    environment; yields `Servers`, and removes everything afterwards."""
    postgres = PostgresServer().start()
    redis = RedisServer().start()
    mail = SmtpServer().start() if smtp else None
    instance = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    env = {
        "DATABASE_URL": postgres.create_database(f"bench_{name}"),
        "CELERY_BROKER_URL": redis.url(broker_db),
        "INSTANCE_PATH": str(instance),
        "STORAGE_DIR": str(instance / "storage"),
        "SECRET_KEY": f"bench-{name}",
        "SWEEP_GRACE_SECONDS": "3600",
        **({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(mail.port)} if mail else {}),
        **(settings or {}),
    }
    try:
        app = migrated_app(env)
        yield Servers(app, {**os.environ, **env}, postgres, redis, mail, instance)
    finally:
        if mail is not None:
            mail.stop()
        postgres.destroy()
        redis.destroy()
        shutil.rmtree(instance, ignore_errors=True)


@contextmanager
def environment(name: str):
    """`servers` without mail, as (app, env, redis, instance)."""
    with servers(name) as run:
        yield run.app, run.env, run.redis, run.instance


def migrated_app(env: dict):
    """The app on `env` (put into os.environ, for the processes it starts), migrated, with
    the divisions and the shipped guide editions loaded."""
    os.environ.update(env)
    from flask_migrate import upgrade

    from rating import create_app
    from rating.services.guide import shipped_edition_paths
    from rating.services.reference import install_edition_file, load_divisions

    app = create_app()
    with app.app_context():
        upgrade()
        load_divisions()
        for path in shipped_edition_paths():
            install_edition_file(path)
    return app


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(values) * 1000, 1), "p99_ms": round(percentile(values, 99) * 1000, 1)}


def seed_applications(app, count: int, status: str = "submitted") -> list[int]:
    """Firms with complete applications, inserted in bulk (the benchmarks measure scoring, not filing)."""
    from rating import clock
    from rating.extensions import db
    from rating.models import Application, CloudService, Enterprise, Evidence, Payment
    from rating.services.uscc import uscc_from_serial
    from tests.factories import good_application, make_batch

    with app.app_context():
        batch = make_batch("js-2024", closes_in_days=30)
        template = good_application(batch, 3)
        from rating.services import answers as codec
        from rating.services.reference import get_edition

        edition = get_edition(batch.edition_code)
        needs_evidence = [i.code for i in edition.indicators_for(3) if i.evidence_required]
        stored = {code: codec.to_storage(edition.indicator(code), typed_answer(edition.indicator(code), value))
                  for code, value in template["answers"].items()}
        counties = ["320402", "320404", "320411", "320412", "320413", "320481"]
        now = clock.now()
        ids = []
        for start in range(0, count, 500):
            chunk = []
            for n in range(start, min(count, start + 500)):
                serial = next(_SERIALS)
                firm = Enterprise(name=f"基准企业{serial}", uscc=uscc_from_serial(serial, division=counties[n % 6]),
                                  district_code=counties[n % 6], industry="C", scale="small",
                                  contact_name="王工", contact_phone="0519-1234567", email=f"b{serial}@bench.test")
                evidence = [Evidence(indicator_code=code, filename=f"{code}.pdf", content_type="application/pdf",
                                     size=1000, sha256=hashlib.sha256(f"{serial}-{code}".encode()).hexdigest())
                            for code in needs_evidence]
                application = Application(
                    enterprise=firm, batch=batch, target_level=3, status=status, answers=stored, evidence=evidence,
                    submission_round=1 if status != "draft" else 0,
                    submitted_at=now if status != "draft" else None, score_requested_at=now,
                    services=[CloudService(position=i, provider=s["provider"], service_name=s["service_name"],
                                           category=s["category"], deployment=s["deployment"],
                                           started_on=_date(s["started_on"]), ended_on=None,
                                           payments=[Payment(paid_on=_date(p["paid_on"]), amount=p["amount"])
                                                     for p in s["payments"]])
                              for i, s in enumerate(template["cloud_services"])],
                )
                chunk.append(application)
            db.session.add_all(chunk)
            db.session.commit()
            ids.extend(a.id for a in chunk)
        # A live database has statistics (autovacuum); bulk-loaded tables have none yet.
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        return ids


def _date(text: str):
    from datetime import date

    return date.fromisoformat(text)


@contextmanager
def timer():
    started = time.perf_counter()
    box = {}
    yield box
    box["seconds"] = time.perf_counter() - started


__all__ = ["environment", "seed_applications", "summary", "percentile", "timer", "RESULTS", "timedelta"]
