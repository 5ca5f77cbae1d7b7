"""Importing an existing ratings list of 50,000 rows with the real command (README: "well
under a minute"), on the embedded SQLite default from CSV and from XLSX, and on PostgreSQL
from CSV, then the same list again (every row skipped).

Floor: a fresh Python process that only reads the same file into rows with the
importer's own reader (`import_rows.read_table`): the file has to be parsed whatever is
done with it. The command's figure includes its start-up (the app and its migrations
check), as a clerk running it sees it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import servers
from tests.support.files import big_rows, csv_bytes, ratings_xlsx_bytes
from tests.support.servers import BIN, ROOT

ROWS = 50_000
# What the process environment must not carry into the SQLite runs.
_SERVER_SETTINGS = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "STORAGE_DIR")


def _flask(env: dict, *command: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *command], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return elapsed, done.stdout.splitlines()[0] if done.stdout else ""


def _parse_floor(path: Path) -> float:
    code = ("import sys; from rating.services.reporting.import_rows import read_table; "
            "p = sys.argv[1]; read_table(p, open(p, 'rb').read())")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, check=True, timeout=900)
    return time.perf_counter() - started


def _sqlite(path: Path, scratch: Path) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in _SERVER_SETTINGS}
    env["INSTANCE_PATH"] = str(scratch / f"instance-{path.suffix[1:]}")
    for command in (["db", "upgrade"], ["reference", "load"], ["guides", "load"]):
        _flask(env, *command)
    seconds, line = _flask(env, "ratings", "import", str(path))
    floor = _parse_floor(path)
    return {"import_s": round(seconds, 1), "output": line, "floor_parse_s": round(floor, 1),
            "ratio": round(seconds / floor, 2)}


def run() -> dict:
    rows = big_rows(ROWS)
    scratch = Path(tempfile.mkdtemp(prefix="bench-imports-"))
    try:
        csv_path, xlsx_path = scratch / "list.csv", scratch / "list.xlsx"
        csv_path.write_bytes(csv_bytes(rows))
        xlsx_path.write_bytes(ratings_xlsx_bytes(rows))
        result = {"rows": ROWS, "sqlite_csv": _sqlite(csv_path, scratch), "sqlite_xlsx": _sqlite(xlsx_path, scratch)}
        with servers("imports") as run_on:
            first, line = _flask(run_on.env, "ratings", "import", str(csv_path))
            again, again_line = _flask(run_on.env, "ratings", "import", str(csv_path))
        floor = _parse_floor(csv_path)
        result["postgresql_csv"] = {"import_s": round(first, 1), "output": line,
                                    "again_s": round(again, 1), "again_output": again_line,
                                    "floor_parse_s": round(floor, 1), "ratio": round(first / floor, 2)}
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
