"""Reference data: divisions, guide editions and batches."""
from __future__ import annotations

import csv
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select

from rating import clock
from rating.errors import Conflict, NotFound, ValidationFailed
from rating.extensions import db
from rating.models import Batch, GuideEdition, Jurisdiction, JurisdictionLevel
from rating.models.types import valid_id
from rating.rules.editions import Edition, EditionError, load_edition_file, parse_edition

DIVISIONS_CSV = Path(__file__).resolve().parent.parent / "data" / "jiangsu-divisions.csv"
GUIDES_DIR = Path(__file__).resolve().parent.parent / "guides"


def shipped_edition_paths() -> list[Path]:
    """The guide editions that ship with the application."""
    return sorted(GUIDES_DIR.glob("*.yaml"))


def load_divisions(path: Path = DIVISIONS_CSV) -> int:
    """Upsert the division tree from a CSV of code,name,level,parent_code. Returns rows written."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_code = {r["code"]: r for r in rows}

    def ancestor(code: str, level: str) -> str | None:
        row = by_code.get(code)
        while row is not None and row["level"] != level:
            row = by_code.get(row["parent_code"] or "")
        return row["code"] if row else None

    # Parents before children so that foreign keys hold at every flush.
    order = {JurisdictionLevel.province: 0, JurisdictionLevel.city: 1, JurisdictionLevel.county: 2}
    written = 0
    for row in sorted(rows, key=lambda r: order[r["level"]]):
        record = db.session.get(Jurisdiction, row["code"]) or Jurisdiction(code=row["code"])
        record.name = row["name"]
        record.level = row["level"]
        record.parent_code = row["parent_code"] or None
        record.province_code = ancestor(row["code"], JurisdictionLevel.province) or row["code"]
        record.city_code = ancestor(row["code"], JurisdictionLevel.city)
        db.session.add(record)
        db.session.flush()
        written += 1
    return written


def jurisdictions() -> list[Jurisdiction]:
    return list(db.session.execute(select(Jurisdiction).order_by(Jurisdiction.code)).scalars())


def counties() -> list[Jurisdiction]:
    return list(
        db.session.execute(
            select(Jurisdiction)
            .where(Jurisdiction.level == JurisdictionLevel.county)
            .order_by(Jurisdiction.code)
        ).scalars()
    )


def install_edition(edition: Edition, source: str | None = None, source_type: str = "text/yaml") -> str:
    """Store an edition (with the `source` document it was read from, if any). Returns
    'created', 'updated' or 'unchanged'.

    An edition that a batch uses is frozen: its applications were scored against it.
    """
    record = db.session.get(GuideEdition, edition.code)
    if record is not None and record.sha256 == edition.sha256:
        return "unchanged"
    if record is not None:
        in_use = db.session.execute(
            select(Batch.id).where(Batch.edition_code == edition.code).limit(1)
        ).first()
        if in_use:
            raise Conflict(
                _("指南版本 %(code)s 已被申报批次使用，不能修改；请以新的版本代码发布。", code=edition.code)
            )
        status = "updated"
    else:
        record = GuideEdition(code=edition.code)
        status = "created"
    record.title = edition.title
    record.version = edition.version
    record.document = dict(edition.document)
    record.sha256 = edition.sha256
    record.source, record.source_type = (source, source_type) if source is not None else (None, None)
    db.session.add(record)
    db.session.flush()
    # Only an edition no batch uses can change; this process forgets what it kept of the
    # code (a test database recreated under the same process installs editions afresh).
    _FROZEN.pop(edition.code, None)
    return status


def install_edition_file(path: Path) -> str:
    try:
        edition = load_edition_file(path)
    except EditionError as exc:
        raise ValidationFailed(_("指南文件 %(path)s 有误：%(error)s", path=str(path), error=str(exc)))
    return install_edition(edition, path.read_text(encoding="utf-8"), "text/yaml")


_EDITIONS: dict[tuple[str, str], Edition] = {}


def get_edition(code: str) -> Edition:
    """The parsed edition, cached per content hash (an edition in use never changes)."""
    sha = None
    if "\x00" not in code:       # no code holds a NUL, and PostgreSQL refuses a query that sends one
        sha = db.session.execute(select(GuideEdition.sha256).where(GuideEdition.code == code)).scalar()
    if sha is None:
        raise NotFound(_("未找到指南版本 %(code)s。", code=code))
    edition = _EDITIONS.get((code, sha))
    if edition is None:
        document = db.session.execute(
            select(GuideEdition.document).where(GuideEdition.code == code)
        ).scalar_one()
        edition = _EDITIONS[(code, sha)] = parse_edition(document)
    return edition


_FROZEN: dict[str, Edition] = {}


def edition_of_batch(code: str) -> Edition:
    """The edition a batch uses. Such an edition can no longer change (install_edition
    refuses, and batches are never deleted), so it is cached by code without asking the
    database again: every request on an application needs it, some twice."""
    edition = _FROZEN.get(code)
    if edition is None:
        edition = _FROZEN[code] = get_edition(code)
    return edition


_LEVELS: dict[frozenset, tuple[int, ...]] = {}


def all_levels() -> tuple[int, ...]:
    """Every star level some loaded guide edition defines, ascending.

    What spans editions offers and accepts these: filters, totals, dashboards, imports and
    exports (filing takes its batch's edition). Taken from the editions rather than from
    the ratings, so a level nobody holds yet still has its column and its filter, and an
    imported list is checked against the levels a guide defines. Kept per set of content
    hashes: one read of the small editions table, and a new edition counts at once."""
    loaded = frozenset(db.session.execute(select(GuideEdition.code, GuideEdition.sha256)).tuples())
    levels = _LEVELS.get(loaded)
    if levels is None:
        levels = tuple(sorted({level for code, _sha in loaded for level in get_edition(code).levels}))
        _LEVELS.clear()
        _LEVELS[loaded] = levels
    return levels


def batches() -> list[Batch]:
    return list(db.session.execute(select(Batch).order_by(Batch.opens_at.desc())).scalars())


def get_batch(batch_id: int) -> Batch:
    batch = db.session.get(Batch, batch_id) if valid_id(batch_id) else None
    if batch is None:
        raise NotFound(_("未找到申报批次。"))
    return batch


def open_batches() -> list[Batch]:
    now = clock.now()
    return [b for b in batches() if b.is_open_at(now)]
