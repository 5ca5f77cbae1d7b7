"""Reading an import file (CSV or XLSX) into checked rows: the header, each row's cells,
duplicates within the file, the importer's jurisdiction. Nothing is written here (`imports`)."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from rating import clock
from rating.errors import ValidationFailed
from rating.extensions import db
from rating.models import Jurisdiction, JurisdictionLevel, User
from rating.platform import text
from rating.rules.uscc import UsccError, validate_uscc
from rating.services.reference import all_levels

REQUIRED = ("企业名称", "统一社会信用代码", "区县代码", "星级", "年度")
OPTIONAL = ("证书编号", "批次", "认定日期")
# An XLSX is a zip: refuse archives that would unpack to more than this (zip bombs).
MAX_UNPACKED_BYTES = 300 * 1024 * 1024
MAX_ROWS = 1_000_000

_CHINESE_NUMERALS = {numeral: n for n, numeral in enumerate("一二三四五六七八九", start=1)}
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


class ImportFileError(ValidationFailed):
    """The file as a whole cannot be read (nothing was imported)."""


@dataclass
class Report:
    filename: str
    sha256: str
    imported: int = 0
    skipped: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    firms_created: int = 0
    superseded: int = 0

    @property
    def summary(self) -> str:
        # The contract's line (API.md), the same in every language.
        return f"imported {self.imported}, skipped {self.skipped}, errors {len(self.errors)}"


@dataclass
class Row:
    number: int
    name: str
    uscc: str
    district: str
    level: int
    year: int
    certificate_no: str | None
    batch_label: str | None
    granted_on: date

    @property
    def key(self) -> tuple[str, int, int]:
        return self.uscc, self.level, self.year

    def same(self, other: "Row") -> bool:
        return (self.name, self.district, self.certificate_no, self.batch_label, self.granted_on) == (
            other.name, other.district, other.certificate_no, other.batch_label, other.granted_on)


# Reading ------------------------------------------------------------------------------

def read_table(filename: str, data: bytes) -> list[list]:
    """The file's rows as lists of cell values (header first)."""
    if not data or not data.strip():
        raise ImportFileError(_("文件为空。"))
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    if filename.lower().endswith((".xlsx", ".xlsm", ".xls")) or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFileError(_("无法读取该 Excel 文件：请另存为 .xlsx（Excel 工作簿）或 CSV UTF-8 后再导入。"))
    return _read_csv(data)


def _read_csv(data: bytes) -> list[list]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(_("文件是 UTF-16 编码：请在 Excel 中“另存为”选择“CSV UTF-8（逗号分隔）”后再导入。"))
    if b"\x00" in data[:65536]:
        raise ImportFileError(_("文件不是 CSV 文本，也不是 XLSX 工作簿，无法读取。"))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            data.decode("gb18030")
        except UnicodeDecodeError:
            raise ImportFileError(_("文件不是 UTF-8 编码的 CSV，也不是 XLSX 工作簿，无法读取。"))
        raise ImportFileError(_("文件似乎是 GBK 编码：请在 Excel 中“另存为”选择“CSV UTF-8（逗号分隔）”，"
                                "或直接上传 .xlsx 文件。"))
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise ImportFileError(_("CSV 格式有误：%(reason)s", reason=str(exc)))


def _read_xlsx(data: bytes) -> list[list]:
    # A lazy import for start-up time: only a spreadsheet import needs openpyxl, a large package.
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise ImportFileError(_("XLSX 文件已损坏，无法读取。"))
    if unpacked > MAX_UNPACKED_BYTES:
        raise ImportFileError(_("XLSX 文件解压后过大，拒绝读取。"))
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for files that are not workbooks
        raise ImportFileError(_("无法读取该 XLSX 文件：请确认它是 Excel 工作簿。"))
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise ImportFileError(_("工作簿中没有工作表。"))
        rows = []
        for values in sheet.iter_rows(values_only=True):
            rows.append(list(values))
            if len(rows) > MAX_ROWS + 1:
                raise ImportFileError(_("文件超过 %(n)s 行，请分批导入。", n=f"{MAX_ROWS:,}"))
        return rows
    finally:
        workbook.close()


# Checking one row ---------------------------------------------------------------------

def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _level(value) -> int | None:
    text = _text(value).replace(" ", "")
    if not text:
        return None
    if set(text) <= {"★", "☆"} and text.count("★"):
        return text.count("★")
    text = re.sub(r"(星级|星|★)$", "", text)
    if text in _CHINESE_NUMERALS:
        return _CHINESE_NUMERALS[text]
    return int(text) if text.isdigit() else None


def _year(value) -> int | None:
    text = re.sub(r"年度?$", "", _text(value))
    return int(text) if re.fullmatch(r"\d{4}", text) else None


def _date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and 20000 <= value <= 80000:  # an Excel serial day
        return date(1899, 12, 30) + timedelta(days=int(value))
    match = _DATE.match(_text(value))
    if match:
        try:
            return date(*(int(part) for part in match.groups()))
        except ValueError:
            return None
    return None


class Checker:
    def __init__(self, importer: User | None):
        self.counties = {code: (city, province) for code, city, province in db.session.execute(
            select(Jurisdiction.code, Jurisdiction.city_code, Jurisdiction.province_code)
            .where(Jurisdiction.level == JurisdictionLevel.county))}
        self.scope = importer.jurisdiction if importer is not None else None
        self.today = clock.today()
        self.levels = all_levels()       # a list spans editions: any level a loaded guide defines
        if not self.levels:
            raise ImportFileError(_("尚未载入评定指南，无法核对星级：请先运行 flask guides load。"))

    def in_scope(self, district: str) -> bool:
        if self.scope is None:
            return True
        city, province = self.counties[district]
        if self.scope.level == JurisdictionLevel.province:
            return province == self.scope.code
        if self.scope.level == JurisdictionLevel.city:
            return city == self.scope.code
        return district == self.scope.code

    def row(self, number: int, cells: dict) -> Row:
        """The checked row, or ValueError with the reason."""
        for column, value in cells.items():
            # Before any cell is quoted in a message: an XLSX cell may hold a lone surrogate
            # (`_xD800_`) that no page can show, or a bidi override that shows another name.
            problem = text.problem(value) if isinstance(value, str) else None
            if problem:
                raise ValueError(_("“%(column)s”一栏%(problem)s", column=column, problem=problem))
        name = re.sub(r"\s+", " ", _text(cells.get("企业名称")))
        if not name:
            raise ValueError(_("企业名称为空。"))
        if len(name) > 200:
            raise ValueError(_("企业名称超过200个字符。"))
        try:
            uscc = validate_uscc(_text(cells.get("统一社会信用代码")))
        except UsccError as exc:
            raise ValueError(_(exc.template, **exc.params) + _("。"))
        district = _text(cells.get("区县代码"))
        if district not in self.counties:
            raise ValueError(_("区县代码“%(code)s”不是本省的县（市、区）代码。", code=district[:20]))
        if not self.in_scope(district):
            raise ValueError(_("区县代码“%(code)s”不在您的管辖范围内。", code=district))
        level = _level(cells.get("星级"))
        if level not in self.levels:
            raise ValueError(_("星级“%(value)s”不正确，应为 %(levels)s 之一。", value=_text(cells.get("星级"))[:20],
                               levels="、".join(str(n) for n in self.levels)))
        year = _year(cells.get("年度"))
        if year is None or not 2000 <= year <= self.today.year:
            raise ValueError(_("年度“%(value)s”不正确，应为 2000 至 %(this)s 之间的四位年份。",
                               value=_text(cells.get("年度"))[:20], this=self.today.year))
        raw_date = cells.get("认定日期")
        if _text(raw_date):
            granted_on = _date(raw_date)
            if granted_on is None:
                raise ValueError(_("认定日期“%(value)s”无法识别，请写作 2024-12-31。", value=_text(raw_date)[:30]))
        else:
            granted_on = date(year, 12, 31)
        if granted_on > self.today:
            raise ValueError(_("认定日期 %(day)s 晚于今天。", day=granted_on.isoformat()))
        certificate_no = _text(cells.get("证书编号")) or None
        if certificate_no and (len(certificate_no) > 40 or not certificate_no.isprintable()):
            raise ValueError(_("证书编号不正确（最多40个字符）。"))
        batch_label = _text(cells.get("批次")) or None
        if batch_label and len(batch_label) > 60:
            raise ValueError(_("批次名称超过60个字符。"))
        return Row(number, name, uscc, district, level, year, certificate_no, batch_label, granted_on)


def _header(row: list) -> dict[str, int]:
    names = [_text(cell).lstrip("\ufeff").replace(" ", "") for cell in row]
    positions = {}
    for index, name in enumerate(names):
        if name in REQUIRED + OPTIONAL and name not in positions:
            positions[name] = index
    missing = [name for name in REQUIRED if name not in positions]
    if missing:
        raise ImportFileError(_("表头缺少列：%(columns)s（第一行应为：%(header)s）。", columns="、".join(missing),
                                header=",".join(REQUIRED)))
    return positions


def check(table: list[list], importer: User | None, report: Report) -> list[Row]:
    """The good rows, each key once; bad rows and conflicting duplicates go to `report`."""
    if not table:
        raise ImportFileError(_("文件为空。"))
    positions = _header(table[0])
    checker = Checker(importer)
    seen: dict[tuple, Row] = {}
    numbers: dict[str, Row] = {}
    for number, values in enumerate(table[1:], start=2):
        if all(_text(value) == "" for value in values):
            continue  # blank lines at the end of a sheet are not rows
        cells = {name: values[index] if index < len(values) else None for name, index in positions.items()}
        try:
            row = checker.row(number, cells)
        except ValueError as exc:
            report.errors.append((number, str(exc)))
            continue
        first = seen.get(row.key)
        if first is not None:
            if first.same(row):
                report.skipped += 1
            else:
                report.errors.append((number, _("与第 %(row)s 行是同一企业、星级和年度，但内容不同。", row=first.number)))
            continue
        if row.certificate_no:
            holder = numbers.get(row.certificate_no)
            if holder is not None:
                report.errors.append((number, _("证书编号 %(no)s 与第 %(row)s 行重复。", no=row.certificate_no,
                                                row=holder.number)))
                continue
            numbers[row.certificate_no] = row
        seen[row.key] = row
    if len(table) == 1 or (not seen and not report.errors and not report.skipped):
        raise ImportFileError(_("文件只有表头，没有数据行。"))
    return list(seen.values())
