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
from sqlalchemy import Date, Integer, Select, String, and_, case, func, literal, select
from sqlalchemy.orm import aliased

from rating import clock
from rating.errors import Forbidden
from rating.extensions import db
from rating.models import Batch, Enterprise, Jurisdiction, Rating, RatingStatus, User
from rating.services.ratings import ratings
from rating.permissions import is_official

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
BATCH_ROWS = 2000


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
    """The CSV as text chunks (BOM first), a few thousand rows at a time. The caller's
    permission is checked now, before anything is streamed."""
    _check(user)
    if db.engine.dialect.name == "postgresql":
        copied = _csv_by_copy(user, filters)
        if copied is not None:
            return copied
    return csv_from_rows(rows(user, filters))


def _csv_by_copy(user: User, filters: dict) -> Iterator[str] | None:
    """The same CSV, byte for byte, written by PostgreSQL (`COPY … TO STDOUT WITH CSV`),
    at close to the speed of COPY itself (writing it from Python rows costs about three
    times as much). The database computes what `rows` and `csv_from_rows` do in Python:
    the status shown, each text neutralised like `neutralise_csv` (from the same
    FORMULA_STARTS), dates as ISO text. Its CSV quotes exactly where Python's does
    (a delimiter, quote, CR or LF) except that it quotes empty strings, so those are sent
    as NULL (both write nothing); it ends rows with LF where Python writes CRLF, so each
    row's LF is replaced (PostgreSQL sends one CopyData message per row, ending in its
    LF; line breaks inside quoted texts stay as they are, as Python leaves them). None when
    a column has a type not handled here: the caller writes from Python rows then."""
    query = statement(user, filters)
    *head, granted, until, status = query.selected_columns
    labels = {s.value: s.label for s in RatingStatus}
    shown = case((and_(status == RatingStatus.valid.value, until < clock.today()),
                  labels[RatingStatus.expired.value]),
                 *[(status == value, label) for value, label in labels.items()])

    def text_cell(value):
        return case((func.left(value, 1).in_(FORMULA_STARTS), literal("'") + value), else_=func.nullif(value, ""))

    cells = []
    for column in (*head, granted, until):
        if isinstance(column.type, String):
            cells.append(text_cell(column))
        elif isinstance(column.type, Date):
            cells.append(func.to_char(column, "YYYY-MM-DD"))
        elif isinstance(column.type, Integer):
            cells.append(column)
        else:
            return None
    compiled = query.with_only_columns(*cells, text_cell(shown)).compile(
        dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})
    sql, params = f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv)", compiled.params
    buffer = io.StringIO()
    buffer.write("\ufeff")
    csv.writer(buffer).writerow([header for header, _width in columns()])

    def generate() -> Iterator[str]:
        db.session.flush()                      # as session.execute would (autoflush)
        connection = db.session.connection().connection.driver_connection
        encoding, first, batch = connection.info.encoding, buffer.getvalue(), []
        # In the session's transaction, on its connection (psycopg binds the parameters).
        with connection.cursor() as cursor, cursor.copy(sql, params) as copy:
            for row in copy:
                batch.append(row[:-1])
                if len(batch) == BATCH_ROWS:
                    batch.append(b"")
                    yield first + b"\r\n".join(batch).decode(encoding)
                    first, batch = "", []
        if batch:
            batch.append(b"")
        yield first + b"\r\n".join(batch).decode(encoding)

    return generate()


def csv_from_rows(rows: Iterator[tuple]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([header for header, _width in columns()])
    rows = iter(rows)
    # BATCH_ROWS rows at a time, the cells rewritten inline (neutralise_csv, dates as ISO
    # text) and written in one call: per-cell function calls were half the export's time.
    while batch := list(islice(rows, BATCH_ROWS)):
        writer.writerows([[("'" + value if value.startswith(FORMULA_STARTS) else value) if isinstance(value, str)
                           else value.isoformat() if isinstance(value, date) else value for value in row]
                          for row in batch])
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
    import xlsxwriter

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
