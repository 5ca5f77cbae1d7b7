"""Snapshots to prove that a refused request wrote nothing: every table's content, the files in storage."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from rating.extensions import db


def fingerprint(skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """Every table's content as one hash each (in one round trip): equal before and after a
    request means the request changed no row anywhere."""
    tables = [t.name for t in db.metadata.sorted_tables if t.name not in skip]
    columns = ", ".join(
        f"(SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {name} t) AS {name}"
        for name in tables)
    with db.engine.connect() as connection:
        row = connection.execute(text(f"SELECT {columns}")).one()
    return dict(zip(tables, row))


def stored_files(app) -> set[Path]:
    root = Path(app.config["STORAGE_DIR"])
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()
