"""Importing the ratings lists officials already hold (CSV or XLSX spreadsheets).

Header `企业名称,统一社会信用代码,区县代码,星级,年度`, optionally `证书编号,批次,认定日期`
(any order, other columns ignored). Every row is checked before anything is written;
a bad row is reported with its row number (the spreadsheet's, header = row 1) and never
stops the good ones. Rows are upserted on (credit code, level, year): a firm that does
not exist yet is created from the row (name, code, district; the rest comes when it
registers), a rating already imported is updated when the row says something new and
skipped when it says nothing new, and a rating this system granted itself is left as it
is. A higher level supersedes the firm's lower ratings granted on or before it, as a
grant does. The whole import is one transaction and one entry in the audit chain
(who, file name, SHA-256, counts). Reading and checking the rows is in `import_rows`.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from rating.errors import Forbidden
from rating.extensions import db
from rating.models import AuditEntry, Enterprise, Rating, RatingStatus, User
from rating.platform import audit, storage
from rating.services.reporting import aggregates
from rating.services.reporting.import_rows import Checker, Report, Row, check, read_table
from rating.permissions import acts_everywhere, can_see_all_imports, is_official

CHUNK = 2000


def _insert(model):
    return (pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert)(model)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _write(rows: list[Row], checker_scope: Checker, report: Report) -> set[int]:
    """Upsert the rows; the ids of the firms whose ratings changed."""
    years = current_app.config["RATING_VALIDITY_YEARS"]
    touched: set[int] = set()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        codes = {row.uscc for row in chunk}
        firms = {uscc: (firm_id, district) for firm_id, uscc, district in db.session.execute(
            select(Enterprise.id, Enterprise.uscc, Enterprise.district_code).where(Enterprise.uscc.in_(codes)))}
        new_firms = {}
        for row in chunk:
            if row.uscc not in firms and row.uscc not in new_firms:
                new_firms[row.uscc] = {"name": row.name, "uscc": row.uscc, "district_code": row.district}
        if new_firms:
            db.session.connection().execute(
                _insert(Enterprise.__table__).on_conflict_do_nothing(index_elements=["uscc"]), list(new_firms.values()))
            created = db.session.execute(select(Enterprise.id, Enterprise.uscc, Enterprise.district_code)
                                         .where(Enterprise.uscc.in_(list(new_firms)))).all()
            report.firms_created += len(created)
            firms.update({uscc: (firm_id, district) for firm_id, uscc, district in created})

        ids = {firms[row.uscc][0] for row in chunk}
        existing = {(firm_id, level, year): (rating_id, application_id, recorded)
                    for rating_id, firm_id, level, year, application_id, *recorded
                    in db.session.execute(select(Rating.id, Rating.enterprise_id, Rating.level, Rating.year,
                                                 Rating.application_id, Rating.certificate_no, Rating.batch_label,
                                                 Rating.granted_on, Rating.certified_name,
                                                 Rating.certified_district_code)
                                          .where(Rating.enterprise_id.in_(ids)))}
        wanted = [row.certificate_no for row in chunk if row.certificate_no]
        holders = {number: (firm_id, level, year) for number, firm_id, level, year in db.session.execute(
            select(Rating.certificate_no, Rating.enterprise_id, Rating.level, Rating.year)
            .where(Rating.certificate_no.in_(wanted)))} if wanted else {}

        inserts, updates = [], []
        for row in chunk:
            firm_id, district = firms[row.uscc]
            if not checker_scope.in_scope(district):
                report.errors.append((row.number, _("该企业登记在区县 %(code)s，不在您的管辖范围内。", code=district)))
                continue
            key = (firm_id, row.level, row.year)
            holder = holders.get(row.certificate_no) if row.certificate_no else None
            if holder is not None and holder != key:
                report.errors.append((row.number, _("证书编号 %(no)s 已用于另一项认定。", no=row.certificate_no)))
                continue
            current = existing.get(key)
            if current is None:
                # Core inserts skip the ORM's before_insert: the name and county certified are
                # the list's, set here (what /verify shows, whatever the firm's record says later).
                inserts.append({"enterprise_id": firm_id, "certified_name": row.name,
                                "certified_district_code": row.district, "level": row.level, "year": row.year,
                                "certificate_no": row.certificate_no, "batch_label": row.batch_label,
                                "granted_on": row.granted_on,
                                "valid_until": _add_years(row.granted_on, years) - timedelta(days=1),
                                "status": RatingStatus.valid})
                continue
            rating_id, application_id, recorded = current
            if application_id is not None or tuple(recorded) == (
                    row.certificate_no, row.batch_label, row.granted_on, row.name, row.district):
                # Nothing new, or a rating this system granted: its own record wins.
                report.skipped += 1
                continue
            touched.add(firm_id)
            updates.append({"id": rating_id, "certificate_no": row.certificate_no, "batch_label": row.batch_label,
                            "granted_on": row.granted_on, "certified_name": row.name,
                            "certified_district_code": row.district,
                            "valid_until": _add_years(row.granted_on, years) - timedelta(days=1)})
        if inserts:
            result = db.session.connection().execute(
                _insert(Rating.__table__).on_conflict_do_nothing(index_elements=["enterprise_id", "level", "year"]),
                inserts)
            added = result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(inserts)
            report.imported += added
            report.skipped += len(inserts) - added  # granted meanwhile by a concurrent close
            touched.update(item["enterprise_id"] for item in inserts)
        if updates:
            db.session.execute(update(Rating), updates)
            report.imported += len(updates)
    return touched


def supersede(firm_ids: set[int]) -> int:
    """Mark a firm's valid ratings superseded by a higher level granted on or after them
    (the grant's rule, applied to what an import added); the number of ratings moved."""
    moved = 0
    ids = sorted(firm_ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        by_firm: dict[int, list[tuple]] = {}
        for rating_id, firm_id, level, year, granted_on, status in db.session.execute(
                select(Rating.id, Rating.enterprise_id, Rating.level, Rating.year, Rating.granted_on, Rating.status)
                .where(Rating.enterprise_id.in_(chunk), Rating.status != RatingStatus.revoked)):
            by_firm.setdefault(firm_id, []).append((rating_id, level, year, granted_on, status))
        changes = []
        for held in by_firm.values():
            if len(held) < 2:
                continue
            for rating_id, level, _year, granted_on, status in held:
                if status != RatingStatus.valid:
                    continue
                higher = [(day, lv, yr) for _id, lv, yr, day, _s in held if lv > level and day >= granted_on]
                if higher:
                    day, lv, yr = min(higher)
                    changes.append({"id": rating_id, "status": RatingStatus.superseded, "status_changed_on": day,
                                    "status_reason": _("被 %(year)s 年度 %(level)s 星级认定取代。", year=yr, level=lv)})
        if changes:
            db.session.execute(update(Rating), changes)
            moved += len(changes)
    return moved


def run(filename: str, data: bytes, importer: User | None = None) -> Report:
    """Import one file; `importer` None is the command line (the whole database)."""
    if importer is not None and not is_official(importer):
        raise Forbidden(_("只有主管部门人员可以导入认定名单。"))
    if importer is not None and importer.jurisdiction is None and not acts_everywhere(importer):
        raise Forbidden(_("您的账户没有管辖范围，不能导入。"))
    # The name as the importer's computer gave it (a browser's upload, a path's bytes on the
    # command line): kept and shown without paths, control or bidi characters.
    filename = storage.safe_filename(filename)
    report = Report(filename=filename, sha256=hashlib.sha256(data).hexdigest())
    rows = check(read_table(filename, data), importer, report)
    checker = Checker(importer)
    touched = _write(rows, checker, report)
    report.superseded = supersede(touched)
    if touched:
        aggregates.drop_all()       # an import can change any day's counts: they are recomputed on use
    report.errors.sort()
    audit.append("ratings.import", "import", report.sha256[:16], importer.id if importer else None,
                 filename=filename[:200], sha256=report.sha256, imported=report.imported, skipped=report.skipped,
                 errors=len(report.errors), firms_created=report.firms_created, superseded=report.superseded)
    db.session.flush()
    return report


def recent_imports(user: User, limit: int = 20) -> list[dict]:
    """The latest imports from the audit chain: an official's own, or everyone's for those who
    see every import."""
    query = (select(AuditEntry, User.name, User.email).outerjoin(User, User.id == AuditEntry.actor_id)
             .where(AuditEntry.action == "ratings.import").order_by(AuditEntry.id.desc()).limit(limit))
    if not can_see_all_imports(user):
        query = query.where(AuditEntry.actor_id == user.id)
    recent = []
    for entry, name, email in db.session.execute(query):
        data = json.loads(entry.payload)["data"]
        recent.append({"at": entry.at, "who": name or email or _("命令行"), **data})
    return recent
