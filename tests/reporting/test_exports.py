"""Exports of the ratings list: contents, encoding, formula neutralising, scope (read back as Excel would)."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
import pytest
from sqlalchemy import update

from rating.extensions import db
from rating.models import Enterprise
from tests.support.factories import grant_rating, make_staff
from tests.support.files import read_csv

pytestmark = pytest.mark.integration

NAMES = ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+1+2", "-3+4", "@SUM(A1:A2)", "\tcmd", "\r\nx",
         "＝１＋１", "＠ＳＵＭ", "－５", "常州正常科技有限公司"]


@pytest.fixture()
def exported(api, app):
    firms = []
    for n, name in enumerate(NAMES):
        firm, _token = api.register_firm("320402" if n % 2 == 0 else "320411")
        db.session.execute(update(Enterprise).where(Enterprise.id == firm["id"]).values(name=name))
        grant_rating(firm["id"], 3, date(2025, 6, 1))
        firms.append(firm)
    nanjing, _token = api.register_firm("320102")
    grant_rating(nanjing["id"], 4, date(2025, 6, 2))
    db.session.commit()
    people = {name: api.token(make_staff(role, code).email) for name, role, code in [
        ("city", "official", "320400"), ("county", "official", "320402"), ("province", "official", "320000"),
        ("reviewer", "reviewer", "320400")]}
    return firms, nanjing, people


def test_csv_neutralises_formulas_and_keeps_text(api, exported):
    _firms, _nanjing, people = exported
    response = api.get("/exports/ratings.csv", token=people["city"])
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response.data)
    assert rows[0][:3] == ["证书编号", "企业名称", "统一社会信用代码"]
    names = {row[1] for row in rows[1:]}
    for name in NAMES:
        expected = "'" + name if name != "常州正常科技有限公司" else name
        assert expected in names, (name, names)
    for row in rows[1:]:
        assert not row[1].startswith(("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠"))
        assert row[6] == "3" and row[9] == "2025-06-01" and row[3] == "常州市"   # numbers and dates as they are
    assert len(rows) == 1 + len(NAMES)                        # 常州 only: the Nanjing firm is out of scope


def test_xlsx_keeps_text_exactly_with_a_quote_prefix(api, exported):
    _firms, _nanjing, people = exported
    response = api.get("/exports/ratings.xlsx?level=3", token=people["city"])
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["证书编号", "企业名称"] and sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width > 30
    # XlsxWriter writes a carriage return as the escape _x000D_, which Excel decodes and openpyxl does not.
    cells = {row[1].value.replace("_x000D_", "\r"): row for row in sheet.iter_rows(min_row=2)}
    assert set(cells) == set(NAMES)                           # the text itself, unchanged
    for name, row in cells.items():
        assert row[1].data_type == "s"
        assert row[1].quotePrefix == (name != "常州正常科技有限公司")
        assert row[6].value == 3 and row[6].data_type == "n"
        assert isinstance(row[9].value, datetime) and row[9].value.date() == date(2025, 6, 1)


def test_exports_are_scoped_and_filtered(api, exported):
    firms, nanjing, people = exported
    county = read_csv(api.get("/exports/ratings.csv", token=people["county"]).data)
    assert {row[5] for row in county[1:]} == {"320402"} and len(county) == 1 + 5
    province = read_csv(api.get("/exports/ratings.csv?level=4", token=people["province"]).data)
    assert [row[2] for row in province[1:]] == [nanjing["uscc"]]
    assert api.get("/exports/ratings.csv", token=people["reviewer"]).status_code == 403
    assert api.get("/exports/ratings.xlsx").status_code == 401
    assert api.get("/exports/ratings.csv?city=32", token=people["city"]).status_code == 422
    empty = read_csv(api.get("/exports/ratings.csv?year=1999", token=people["city"]).data)
    assert len(empty) == 1
