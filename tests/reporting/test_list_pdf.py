"""The printable ratings list (A4 landscape): certificate numbers, credit codes, years and
dates are never broken in the middle, however long the firms' and batches' names; the
download is named by the local date (TIMEZONE), as the CSV and XLSX are. Both failed
before issue 27 (cells broke anywhere; worker-built files were named by the UTC date)."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import update

from rating.extensions import db
from rating.models import Enterprise, ExportJob
from rating.services.reporting import exports
from rating.services.reporting.export_jobs import download_name
from rating.services.reporting.list_pdf import render_list
from tests.support.factories import grant_rating, make_staff
from tests.support.pdf import pdf_text

pytestmark = pytest.mark.integration

LONG_NAME = "常州市武进区高新技术产业开发区云上智能精密机械制造与工业互联网创新应用股份有限公司"
LONG_BATCH = "2026年度江苏省星级上云企业第一批（含工业互联网标杆工厂与专精特新企业专项）"


def test_codes_years_and_dates_stay_on_one_line(app, api):
    codes = []
    for serial, (district, level) in enumerate([("320402", 3), ("320411", 4), ("320402", 5), ("320412", 3)], 1):
        firm, _token = api.register_firm(district)
        db.session.execute(update(Enterprise).where(Enterprise.id == firm["id"]).values(name=LONG_NAME[:20 + serial * 5]))
        rating = grant_rating(firm["id"], level, date(2026, 1, 15))
        rating.certificate_no, rating.batch_label = f"JS-2026-1-{level}-{serial:06d}", LONG_BATCH
        db.session.commit()
        codes += [rating.certificate_no, firm["uscc"]]
    official = make_staff("official", "320400")
    with app.test_request_context():
        rows = list(exports.rows(official, {}))
        pdf = render_list(official, {}, rows, len(rows))
    lines = pdf_text(pdf).splitlines()
    for code in [*codes, "2026-01-15", "2029-01-14"]:
        assert any(code in line for line in lines), (code, [line for line in lines if line[:4] in code])
    # The year column: "2026" whole on a line of its own (its cell), never "202" and "6".
    assert any(line.strip() == "2026" for line in lines)
    assert not any(re.fullmatch(r"\d{2,3}", line.strip()) for line in lines)


def test_worker_built_lists_are_named_by_the_local_date(app):
    # 17:30 UTC on 7 December is 01:30 on 8 December in Asia/Shanghai.
    job = ExportJob(id=12, format="pdf", created_at=datetime(2026, 12, 7, 17, 30, tzinfo=timezone.utc))
    assert download_name(job) == "ratings-20261208-12.pdf"
