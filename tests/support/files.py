"""Files a test sends or reads: ratings lists to import, CSV exports, images, refused uploads."""
from __future__ import annotations

import csv
import io
from datetime import date

import xlsxwriter
from PIL import Image

from rating.rules.uscc import uscc_from_serial

from tests.support.flows import upload
from tests.support.snapshot import fingerprint, stored_files


HEADER = ["企业名称", "统一社会信用代码", "区县代码", "星级", "年度", "证书编号", "批次", "认定日期"]


def csv_bytes(rows: list[list], header=HEADER, bom: bool = True, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode(encoding) + buffer.getvalue().encode(encoding)


def ratings_xlsx_bytes(rows: list[list], header=HEADER) -> bytes:
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = workbook.add_worksheet("名单")
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, header)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, date):
                sheet.write_datetime(r, c, value, day)
            elif value is not None:
                sheet.write(r, c, value)
    workbook.close()
    return out.getvalue()


def big_rows(n: int) -> list[list]:
    """`n` good rows of a ratings list, over six counties of two cities and every level."""
    counties = ["320402", "320411", "320412", "320102", "320105", "320206"]
    rows = []
    for i in range(n):
        code = counties[i % len(counties)]
        rows.append([f"导入测试企业{i}有限公司", uscc_from_serial(100_000 + i, division=code), code,
                     str(3 + i % 3), str(2021 + i % 5), "", f"第{1 + i % 2}批", ""])
    return rows


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())                  # Excel opens it as UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def image_bytes(kind: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, kind)
    return buffer.getvalue()


def refused(api, app, application_id, token, data: bytes, name: str, message: str):
    """Upload; expect a 422 naming the file with `message`, and nothing written anywhere."""
    before, files_before = fingerprint(), stored_files(app)
    response = upload(api, token, application_id, data, name)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert message in error["message"] and message in error["fields"]["file"][0]
    assert fingerprint() == before and stored_files(app) == files_before
