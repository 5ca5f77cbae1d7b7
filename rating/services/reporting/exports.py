"""Exports of the ratings list: CSV (streamed, UTF-8 with BOM) and XLSX (constant memory).

Same filters and scope as the list (`ratings.filtered`). No cell can be read as a
formula: a text beginning with = + - @, a tab, a carriage return or a line feed (or the
full-width = + - @) is neutralised without losing its text. In XLSX the cell gets
Excel's quote prefix (the text itself is unchanged; Excel shows and edits it as text);
in CSV, which has no cell types, an apostrophe is put before it, as spreadsheet programs
do when a person types such a text. Numbers and dates stay numbers and dates.
"""
from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from datetime import date
from itertools import islice

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased
import xlsxwriter

from rating import clock
from rating.errors import Forbidden
from rating.extensions import db
from rating.models import Batch, Enterprise, Jurisdiction, Rating, RatingStatus, User
from rating.services.ratings import ratings
from rating.permissions import is_official

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
# Rows read per round trip and written per chunk: few enough that an export of a million rows
# stays within its memory budget (docs/benchmarks.md), enough that round trips cost little.
BATCH_ROWS = 1000


def dangerous(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def neutralise_csv(value):
    if isinstance(value, str) and dangerous(value):
        return "'" + value
    return value


def columns() -> list[tuple[str, int]]:
    """(header, XLSX column width)."""
    return [(_("证书编号"), 22), (_("企业名称"), 40), (_("统一社会信用代码"), 22), (_("设区市"), 10),
            (_("县（市、区）"), 12), (_("区县代码"), 10), (_("星级"), 6), (_("批次"), 28), (_("年度"), 8),
            (_("认定日期"), 12), (_("有效期至"), 12), (_("状态"), 12)]


def statement(user: User, filters: dict) -> Select:
    """The export's SELECT: its columns and joins, the caller's scope and the filters, the order."""
    city = aliased(Jurisdiction)
    query = (select(Rating.certificate_no, Enterprise.name, Enterprise.uscc, city.name, Jurisdiction.name,
                    Enterprise.district_code, Rating.level, func.coalesce(Batch.name, Rating.batch_label), Rating.year, Rating.granted_on,
                    Rating.valid_until, Rating.status)
             .select_from(Rating)
             .join(Enterprise, Enterprise.id == Rating.enterprise_id)
             .join(Jurisdiction, Jurisdiction.code == Enterprise.district_code)
             .outerjoin(city, city.code == Jurisdiction.city_code)
             .outerjoin(Batch, Batch.id == Rating.batch_id))
    return ratings.filtered(query, user, **filters).order_by(Rating.granted_on.desc(), Rating.id.desc())


def _check(user: User) -> None:
    if not is_official(user):
        raise Forbidden(_("只有主管部门人员可以导出名单。"))


def rows(user: User, filters: dict) -> Iterator[tuple]:
    """The export's rows as they are written (status shown as on the list), streamed."""
    _check(user)
    query = statement(user, filters)
    today = clock.today()
    labels = {s.value: s.label for s in RatingStatus}
    valid, expired = RatingStatus.valid.value, RatingStatus.expired.value

    def generate() -> Iterator[tuple]:
        # Plain rows through the session's connection and transaction (a server-side
        # cursor on PostgreSQL, BATCH_ROWS at a time): no ORM row processing.
        db.session.flush()                      # as session.execute would (autoflush)
        result = db.session.connection().execute(query.execution_options(stream_results=True,
                                                                          yield_per=BATCH_ROWS))
        for *head, granted, until, status in result:
            yield (*head, granted, until, labels[expired if status == valid and until < today else status])

    return generate()


def csv_chunks(user: User, filters: dict) -> Iterator[str]:
    """The CSV as text chunks (BOM first), BATCH_ROWS rows at a time, read through a
    server-side cursor: memory stays flat however long the list. The caller's permission
    is checked now, before anything is streamed."""
    _check(user)
    return csv_from_rows(rows(user, filters))


def csv_from_rows(rows: Iterator[tuple]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([header for header, _width in columns()])
    rows = iter(rows)
    while batch := list(islice(rows, BATCH_ROWS)):
        # Dates are written as str() writes them: ISO, as the XLSX shows them.
        writer.writerows([neutralise_csv(value) for value in row] for row in batch)
        if len(batch) == BATCH_ROWS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_file(user: User, filters: dict):
    """The XLSX in a temporary file (XlsxWriter's constant-memory mode writes row by row)."""
    return xlsx_from_rows(rows(user, filters))


def xlsx_from_rows(rows: Iterator[tuple]):
    """The rows as an XLSX in a temporary file, positioned at its start."""
    out = tempfile.TemporaryFile()
    workbook = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": False,
                                         "tmpdir": tempfile.gettempdir()})
    sheet = workbook.add_worksheet(_("认定名单"))
    bold = workbook.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
    quoted = workbook.add_format({"quote_prefix": True})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for col, (header, width) in enumerate(columns()):
        sheet.set_column(col, col, width)
        sheet.write_string(0, col, header, bold)
    sheet.freeze_panes(1, 0)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, date):
                sheet.write_datetime(r, c, value, day)
            elif isinstance(value, int):
                sheet.write_number(r, c, value)
            elif dangerous(value):
                sheet.write_string(r, c, value, quoted)
            else:
                sheet.write_string(r, c, value)
    workbook.close()
    out.seek(0)
    return out
