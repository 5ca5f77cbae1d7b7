"""Totals and exports (issue #5), on PostgreSQL with a province's worth of ratings.

`totals`: 100,000 firms spread (unevenly) over the 104 county-level units and 300,000
ratings of 3/4/5 stars granted 2021-2026 (histories of one to six ratings per firm:
renewals and upgrades that supersede the previous rating, ratings left to expire,
some revoked, a few imported side by side), ANALYZEd. `GET /api/v1/totals` grouped by
city, by district, and by level for one city, through gunicorn (2 workers × 4 threads)
by 20 client threads with keep-alive, against `GET /hello` of the same server in the
same run; the official's `/dashboard` too when the app has one. The endpoint is rate
limited per client address (300 per minute), so each client thread of each run
connects from an address of its own in 127.0.0.0/8 (the limiter still runs on every
request). The cost of a computation that cannot be answered from the cache (the data
changed) is measured twice: in-process, and over HTTP with a different `on` date per
request.

`exports`: 35,000 firms with 100,000 ratings; the CSV export of all of them for a
province official through `rating.services.reporting.exports.csv_chunks` (the endpoint's code
path, in-process, encoded to UTF-8 and written to /dev/null) against PostgreSQL's
`COPY (<the export's own SELECT>) TO STDOUT WITH CSV HEADER` through psycopg's copy API
in the same run, interleaved; the XLSX of the same rows (`exports.xlsx_file`, the file
read back out as the endpoint sends it). Then firms and ratings are added up to
1,000,000 ratings and each export of all of them runs in a child process of its own
that only sets up what it needs and exports to /dev/null (once with just the database
and translations, once with the whole app as a web worker has it); its peak RSS is the
peak memory, next to an idle child of each kind that loads the user and stops.
"""
from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone

import requests
from sqlalchemy import insert, select, text

from bench.common import environment, http_load, interleaved, login_session
from bench.review_seed import analyze
from tests.support.servers import free_port, web

CONCURRENCY = 20
ROUNDS = 5
YEARS = tuple(range(2021, 2027))
# Batches of a year grant on these days; 2021's ratings come from an imported list (no batch row).
BATCH_DAYS = {1: (6, 28), 2: (11, 20)}
REWARD = {3: 50_000, 4: 100_000, 5: 200_000}
PROVINCE_OFFICIAL = "official-province@bench.test"


# --- seeding -------------------------------------------------------------------------

def _counties() -> list[str]:
    from bench.review_seed import counties

    return counties()


def _batches() -> dict[tuple[int, int], int]:
    """System batches 2022-2026, two a year; (year, number) → id."""
    from rating.extensions import db
    from rating.models import Batch

    zone = timezone(timedelta(hours=8))
    rows = []
    for year in YEARS[1:]:
        for number, (month, day) in BATCH_DAYS.items():
            opens = datetime(year, month, day, tzinfo=zone) - timedelta(days=120)
            rows.append({"name": f"{year}年度第{number}批", "province_code": "320000", "year": year,
                         "number": number, "edition_code": "js-2022" if year < 2024 else "js-2024",
                         "opens_at": opens, "closes_at": opens + timedelta(days=30),
                         "usage_cutoff": opens.date(), "investment_from": date(year - 1, 1, 1),
                         "investment_to": opens.date()})
    ids = db.session.execute(insert(Batch).returning(Batch.id, Batch.year, Batch.number), rows).all()
    db.session.commit()
    return {(year, number): batch_id for batch_id, year, number in ids}


def _spread(rng: random.Random, firms: int, ratings: int) -> list[int]:
    """Ratings per firm (1-6, mean ratings/firms), summing to exactly `ratings`."""
    counts = rng.choices((1, 2, 3, 4, 5, 6), weights=(20, 25, 25, 15, 10, 5), k=firms)
    diff = ratings - sum(counts)
    while diff:
        i = rng.randrange(firms)
        if diff > 0 and counts[i] < len(YEARS):
            counts[i] += 1
            diff -= 1
        elif diff < 0 and counts[i] > 1:
            counts[i] -= 1
            diff += 1
    return counts


def _history(rng: random.Random, k: int, today: date, batches: dict) -> list[tuple]:
    """One firm's ratings: (level, year, batch_id, number, granted, until, status, changed_on)."""
    from rating.services.publicity.publicity import add_years

    years = sorted(rng.sample(YEARS, k))
    level = rng.choices((3, 4, 5), weights=(70, 24, 6))[0]
    plan = []
    for n, year in enumerate(years):
        if n:
            level = min(5, level + 1) if rng.random() < 0.35 else level
        number = rng.choice((1, 2))
        month, day = BATCH_DAYS[number]
        granted = min(date(year, month, day), today - timedelta(days=1))
        until = add_years(granted, 3) - timedelta(days=1)
        plan.append([level, year, batches.get((year, number)), number, granted, until, "valid", None])
    for n, item in enumerate(plan):
        if n + 1 < len(plan):
            following = plan[n + 1][4]
            # A later rating within the validity supersedes it (now and then an imported
            # list holds both side by side); after a gap the old one has simply expired.
            if following <= item[5] and rng.random() < 0.9:
                item[6], item[7] = "superseded", following
        elif rng.random() < 0.03:
            changed = item[4] + timedelta(days=rng.randint(30, 700))
            if changed < today:
                item[6], item[7] = "revoked", changed
    return [tuple(item) for item in plan]


def seed(firms: int, ratings: int, rng_seed: int = 5) -> dict:
    """`firms` firms and exactly `ratings` ratings, written with COPY; returns counts by status."""
    from rating import clock
    from rating.extensions import db
    from rating.models import Batch
    from rating.models.enums import INDUSTRY_SECTIONS
    from rating.rules.uscc import uscc_from_serial

    rng = random.Random(rng_seed)
    today, now = clock.today(), clock.now()
    codes = _counties()
    weights = [rng.uniform(0.3, 3.0) for _ in codes]
    existing = db.session.execute(text("SELECT coalesce(max(id), 0) FROM enterprises")).scalar_one()
    batches = {(year, number): batch_id for batch_id, year, number in db.session.execute(
        select(Batch.id, Batch.year, Batch.number).where(Batch.name.like("%年度第_批"))).all()} or _batches()
    label_column = db.session.execute(text(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'ratings' "
        "AND column_name = 'batch_label'")).scalar_one() > 0
    serials = db.session.execute(text(
        "SELECT coalesce(max(substring(certificate_no from '[0-9]+$')::int), 0) FROM ratings")).scalar_one()
    db.session.commit()
    industries = list(INDUSTRY_SECTIONS)
    districts = rng.choices(codes, weights=weights, k=firms)
    per_firm = _spread(rng, firms, ratings)
    first = existing + 1
    statuses: dict[str, int] = {}

    raw = db.engine.raw_connection()
    try:
        connection = raw.driver_connection
        with connection.cursor() as cursor:
            with cursor.copy("COPY enterprises (id, name, uscc, district_code, industry, scale, contact_name, "
                             "contact_phone, email, created_at) FROM STDIN") as copy:
                for n in range(firms):
                    firm_id = first + n
                    # Now and then a name a spreadsheet would read as a formula.
                    name = (f"＋基准{firm_id}科技" if firm_id % 997 == 0 else
                            f"江苏基准云上{firm_id}智能制造有限公司")
                    copy.write_row((firm_id, name, uscc_from_serial(firm_id, division=districts[n]),
                                    districts[n], rng.choice(industries), rng.choice(("medium", "small", "micro")),
                                    "王工", "0519-12345678", f"f{firm_id}@bench.test", now))
            cursor.execute("SELECT setval(pg_get_serial_sequence('enterprises', 'id'), %s)",
                           (first + firms - 1,))
            columns = ("enterprise_id, level, year, batch_id, certificate_no, granted_on, valid_until, status, "
                       "status_reason, status_changed_on, reward_yuan, disbursement, disbursed_on, created_at, "
                       "certified_name, certified_district_code" + (", batch_label" if label_column else ""))
            with cursor.copy(f"COPY ratings ({columns}) FROM STDIN") as copy:
                for n, k in enumerate(per_firm):
                    for level, year, batch_id, number, granted, until, status, changed in _history(
                            rng, k, today, batches):
                        serials += 1
                        statuses[status] = statuses.get(status, 0) + 1
                        if status == "valid" and until < today:
                            statuses["expired (valid, past its end)"] = statuses.get(
                                "expired (valid, past its end)", 0) + 1
                        reason = {"superseded": "由更高或新一年度的认定取代", "revoked": "抽查发现材料不实"}.get(status)
                        if batch_id is None:
                            reward, disbursement, paid = None, "due", None
                        else:
                            reward = REWARD[level]
                            paid = granted + timedelta(days=90)
                            if status == "revoked":
                                disbursement, paid = "withheld", None
                            elif paid < today:
                                disbursement = "paid"
                            else:
                                disbursement, paid = "due", None
                        firm_id = first + n
                        # The name and county the rating certified: the firm's own, as seeded above.
                        certified = (f"＋基准{firm_id}科技" if firm_id % 997 == 0 else
                                     f"江苏基准云上{firm_id}智能制造有限公司")
                        row = (firm_id, level, year, batch_id, f"JS-{year}-{number}-{level}-{serials:07d}",
                               granted, until, status, reason, changed, reward, disbursement, paid, now,
                               certified, districts[n])
                        if label_column:
                            row += (f"{year}年度第{number}批（导入）" if batch_id is None else None,)
                        copy.write_row(row)
        connection.commit()
    finally:
        raw.close()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return {"firms": firms, "ratings": ratings, "by_status": statuses}


def official(email: str = PROVINCE_OFFICIAL, jurisdiction: str = "320000"):
    from tests.support.factories import make_staff

    return make_staff("official", jurisdiction, email=email)


# --- HTTP load -------------------------------------------------------------------------

def _load(base: str, calls, count: int, cookies: dict | None = None, seconds: float = 40.0) -> dict:
    return http_load(base, calls, count=count, concurrency=CONCURRENCY, seconds=seconds, cookies=cookies)


# --- totals ----------------------------------------------------------------------------

TOTALS_QUERIES = {"city": "group_by=city", "district": "group_by=district", "level_city": "group_by=level&city=320200"}


def _in_process(app, repeat: int = 15) -> dict:
    """Median in-process time of a computation answered from the database (no cache) and,
    of `compute` answered from the cache (one statement: the snapshot)."""
    from rating import clock
    from rating.services.reporting import totals

    result = {}
    with app.test_request_context("/api/v1/totals"):
        today = clock.today()
        for name, query in TOTALS_QUERIES.items():
            args = dict(p.split("=") for p in query.split("&"))
            times = []
            # The computation itself, past the cache (`compute` before the cache existed).
            uncached = getattr(totals, "_compute", None)
            for _ in range(repeat):
                started = time.perf_counter()
                if uncached is not None:
                    uncached(args["group_by"], today, None, None, args.get("city"), None)
                else:
                    totals.compute(args["group_by"], today, city=args.get("city"))
                times.append(time.perf_counter() - started)
            result[name] = {"p50_ms": round(statistics.median(times) * 1000, 1),
                            "min_ms": round(min(times) * 1000, 1)}
            if uncached is not None:
                totals.compute(args["group_by"], today, city=args.get("city"))
                times = []
                for _ in range(200):
                    started = time.perf_counter()
                    totals.compute(args["group_by"], today, city=args.get("city"))
                    times.append(time.perf_counter() - started)
                result[name]["cached_p50_ms"] = round(statistics.median(times) * 1000, 2)
    return result


def run_totals(firms: int = 100_000, ratings: int = 300_000, requests_count: int = 2500) -> dict:
    with environment("totals") as (app, env, _redis, instance):
        with app.app_context():
            started = time.perf_counter()
            seeded = seed(firms, ratings)
            seeded["seed_seconds"] = round(time.perf_counter() - started, 1)
            official()
            analyze()
            from rating.extensions import db

            from rating import clock

            valid_today = db.session.execute(text(
                "SELECT count(DISTINCT enterprise_id) FROM ratings WHERE granted_on <= :day "
                "AND valid_until >= :day AND (status = 'valid' OR status_changed_on > :day)"
            ), {"day": clock.today()}).scalar_one()
        in_process = _in_process(app)
        port = free_port()
        server = web(env, instance, port, workers=2)
        base = f"http://127.0.0.1:{port}"
        results: dict = {}
        try:
            _load(base, "/hello", 400)
            # Logged in first: a login writes, and the totals computed before it would be
            # computed again during the measurement.
            session = login_session(base, PROVINCE_OFFICIAL)
            cookies = session.cookies.get_dict()
            probe = session.get(f"{base}/dashboard", allow_redirects=False)
            assert probe.status_code == 200, probe.status_code
            # Each worker process builds the board, and computes each of the totals, once.
            _load(base, "/dashboard", 40, cookies=cookies)
            for name, query in TOTALS_QUERIES.items():
                _load(base, f"/api/v1/totals?{query}", 40)
            # In turns, so that each meets the same machine (see `interleaved`).
            results.update(interleaved(base, {
                "hello": {"calls": "/hello"},
                **{name: {"calls": f"/api/v1/totals?{query}"} for name, query in TOTALS_QUERIES.items()},
                "dashboard": {"calls": "/dashboard", "cookies": cookies},
            }, rounds=ROUNDS, count=requests_count // ROUNDS, concurrency=CONCURRENCY))
            first = date(2021, 7, 1)
            results["city_new_date_each_request"] = _load(
                base, lambda n: f"/api/v1/totals?group_by=city&on={(first + timedelta(days=n)).isoformat()}",
                1800, seconds=60)
            results["hello_after"] = _load(base, "/hello", requests_count // ROUNDS)
            body = requests.get(f"{base}/api/v1/totals?group_by=city").json()
        finally:
            server.stop()
    hello = results["hello"]["per_s"]
    ratios = {name: round(results[name]["per_s"] / hello, 2) for name in [*TOTALS_QUERIES, "dashboard"]}
    # Measured after the others, not in turns: against the hello right after it.
    ratios["city_new_date_each_request"] = round(results["city_new_date_each_request"]["per_s"]
                                                 / results["hello_after"]["per_s"], 2)
    return {"seeded": seeded, "firms_with_a_valid_rating_today": valid_today, "api_total_today": body["total"],
            "concurrency": CONCURRENCY, "gunicorn": "2 workers × 4 threads", "queries": TOTALS_QUERIES,
            **results, "ratio_to_hello": ratios, "in_process": in_process,
            "goals": {"ratio_at_least": 0.25, "p99_below_ms": 100}}


# --- exports ---------------------------------------------------------------------------

def _export_csv(user, sink) -> int:
    from rating.services.reporting import exports

    written = 0
    for chunk in exports.csv_chunks(user, {}):
        data = chunk.encode("utf-8")                    # what the streamed response does
        sink.write(data)
        written += len(data)
    return written


def _export_xlsx(user, sink) -> int:
    from rating.services.reporting import exports

    handle = exports.xlsx_file(user, {})
    written = 0
    while block := handle.read(1 << 16):               # what send_file does
        sink.write(block)
        written += len(block)
    handle.close()
    return written


def _copy_sql(user) -> str:
    """COPY of the export's own statement (same columns, joins, scope, order)."""
    from sqlalchemy.dialects import postgresql

    from rating.services.reporting import exports

    statement = exports.statement(user, {})
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)"


def _copy(sql: str, sink) -> int:
    from rating.extensions import db

    raw = db.engine.raw_connection()
    written = 0
    try:
        with raw.driver_connection.cursor() as cursor:
            with cursor.copy(sql) as copy:
                for data in copy:
                    sink.write(data)
                    written += len(data)
        raw.driver_connection.rollback()
    finally:
        raw.close()
    return written


def _timed(function, *args) -> tuple[float, int]:
    started = time.perf_counter()
    size = function(*args)
    return time.perf_counter() - started, size


# The child runs this, with only what it needs imported: `bare` only the configuration,
# the database and the translations the export uses; `app` the whole app as a web worker
# has it (views, WeasyPrint and all). Its peak is VmHWM, the high-water mark of its own
# address space: Linux carries ru_maxrss over fork and exec, so a child of this
# (large) benchmark process reports the parent's peak there (printed too, for the record).
CHILD = r"""
import json, os, resource, sys, time
from sqlalchemy import select
setup, kind, email = sys.argv[1:4]
if setup == "app":
    from rating import create_app
    app = create_app()
else:
    from flask import Flask
    from rating import ROOT, config
    from rating.extensions import babel, db
    app = Flask("rating", instance_path=os.environ["INSTANCE_PATH"])
    app.config.from_mapping(config.from_environment(app.instance_path))
    db.init_app(app)
    babel.init_app(app, default_translation_directories=str(ROOT / "rating" / "translations"))
from rating.extensions import db
from rating.models import User
from rating.services.reporting import exports
with app.app_context():
    user = db.session.execute(select(User).where(User.email == email)).scalar_one()
    user.jurisdiction
    started, size = time.perf_counter(), 0
    with open(os.devnull, "wb") as sink:
        if kind == "csv":
            for chunk in exports.csv_chunks(user, {}):
                data = chunk.encode("utf-8")
                sink.write(data)
                size += len(data)
        elif kind == "xlsx":
            handle = exports.xlsx_file(user, {})
            while block := handle.read(1 << 16):
                sink.write(block)
                size += len(block)
            handle.close()
    seconds = time.perf_counter() - started
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({"bytes": size, "seconds": round(seconds, 2),
                  "peak_rss_mb": round(int(status["VmHWM"].split()[0]) / 1024, 1),
                  "rss_at_end_mb": round(int(status["VmRSS"].split()[0]) / 1024, 1),
                  "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


CHILDREN = (("bare", "idle"), ("bare", "csv"), ("bare", "xlsx"), ("app", "idle"), ("app", "csv"), ("app", "xlsx"))


def _in_child(setup: str, kind: str, env: dict) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", CHILD, setup, kind, PROVINCE_OFFICIAL],
                         env={**env, "PYTHONPATH": root}, capture_output=True, text=True, timeout=600, cwd=root)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_exports(firms: int = 35_000, ratings: int = 100_000, big: int = 1_000_000, rounds: int = 3) -> dict:
    with environment("exports") as (app, env, _redis, _instance):
        result: dict = {}
        with app.app_context():
            from rating.extensions import db
            from rating.services.reporting import exports

            started = time.perf_counter()
            result["seeded"] = seed(firms, ratings)
            result["seeded"]["seed_seconds"] = round(time.perf_counter() - started, 1)
            user = official()
            user.jurisdiction                           # noqa: B018
            sql = _copy_sql(user)
            rows = db.session.execute(select(text("count(*)")).select_from(
                exports.statement(user, {}).subquery())).scalar_one()
            assert rows == ratings, rows
            # Same records, same order, from both (checked once, untimed).
            import csv
            import io

            ours, floor = io.BytesIO(), io.BytesIO()
            _export_csv(user, ours)
            _copy(sql, floor)
            ours_rows = list(csv.reader(io.StringIO(ours.getvalue().decode("utf-8-sig"), newline="")))
            floor_rows = list(csv.reader(io.StringIO(floor.getvalue().decode(), newline="")))
            assert len(ours_rows) == len(floor_rows) == rows + 1
            assert [r[0] for r in ours_rows[1:50]] == [r[0] for r in floor_rows[1:50]]
            del ours, floor, ours_rows, floor_rows
            db.session.commit()

            csv_times, copy_times, sizes = [], [], {}
            with open(os.devnull, "wb") as sink:
                for _ in range(rounds):
                    seconds, sizes["copy"] = _timed(_copy, sql, sink)
                    copy_times.append(seconds)
                    seconds, sizes["csv"] = _timed(_export_csv, user, sink)
                    csv_times.append(seconds)
                    db.session.commit()
                xlsx_times = []
                for _ in range(2):
                    seconds, sizes["xlsx"] = _timed(_export_xlsx, user, sink)
                    xlsx_times.append(seconds)
                    db.session.commit()
            copy_s, csv_s, xlsx_s = (statistics.median(t) for t in (copy_times, csv_times, xlsx_times))
            result["rows"] = rows
            result["copy_csv_s"] = [round(t, 3) for t in copy_times]
            result["export_csv_s"] = [round(t, 3) for t in csv_times]
            result["export_xlsx_s"] = [round(t, 3) for t in xlsx_times]
            result["bytes"] = sizes
            result["csv_ratio_to_copy"] = round(csv_s / copy_s, 2)
            result["xlsx_ratio_to_copy"] = round(xlsx_s / copy_s, 1)
            result["rows_per_s"] = {"copy": round(rows / copy_s), "csv": round(rows / csv_s),
                                    "xlsx": round(rows / xlsx_s)}

            started = time.perf_counter()
            more = big - ratings
            result["seeded_big"] = seed(round(firms * more / ratings), more, rng_seed=6)
            result["seeded_big"]["seed_seconds"] = round(time.perf_counter() - started, 1)
            total = db.session.execute(text("SELECT count(*) FROM ratings")).scalar_one()
            db.session.commit()
        result["big_rows"] = total
        result["memory"] = {f"{setup}_{kind}": _in_child(setup, kind, env) for setup, kind in CHILDREN}
        with app.app_context():
            from rating.models import User

            user_again = db.session.execute(select(User).where(User.email == PROVINCE_OFFICIAL)).scalar_one()
            with open(os.devnull, "wb") as sink:
                result["copy_csv_big_s"] = round(_timed(_copy, _copy_sql(user_again), sink)[0], 2)
    result["goals"] = {"csv_ratio_at_most": 3, "peak_rss_mb_at_most": 150}
    return result

