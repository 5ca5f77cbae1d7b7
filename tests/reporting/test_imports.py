"""Importing existing ratings lists: `flask --app wsgi ratings import` and the officials'
upload page (good, bad and mixed files, encodings, idempotence, scope, a list larger than the chunks)."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import zipfile
from datetime import date

import pytest
from sqlalchemy import func, select

from rating.extensions import db
from rating.models import AuditEntry, Enterprise, Rating, RatingStatus
from rating.rules.uscc import uscc_from_serial
from rating.services.reporting.imports import CHUNK
from tests.support.factories import PASSWORD, grant_rating, make_staff
from tests.support.files import HEADER, big_rows, csv_bytes, ratings_xlsx_bytes
from tests.support.people import csrf_token
from tests.support.servers import BIN, ROOT

pytestmark = pytest.mark.integration

A, B, C = (uscc_from_serial(n, division="320402") for n in (9001, 9002, 9003))
NANJING = uscc_from_serial(9004, division="320102")


def run_import(runner, tmp_path, data: bytes, name: str = "list.csv", *args):
    path = tmp_path / name
    path.write_bytes(data)
    result = runner.invoke(args=["ratings", "import", str(path), *args])
    return result.exit_code, result.output


def ratings_of(uscc: str) -> list[Rating]:
    return list(db.session.execute(select(Rating).join(Enterprise).where(Enterprise.uscc == uscc)
                                   .order_by(Rating.level)).scalars())


GOOD = [
    ["常州甲科技有限公司", A, "320402", "3", "2023", "", "第一批", "2023-06-30"],
    ["常州甲科技有限公司", A, "320402", "4星", "2024", "JS-2024-1-4-900001", "第一批", "2024年7月1日"],
    ["常州乙智造有限公司", B, "320402", "★★★★★", "2024", "", "", ""],
    ["南京丙软件有限公司", NANJING, "320102", "三星", "2022", "", "", "2022/11/30"],
]


def test_good_file_imports_creates_firms_supersedes_and_is_idempotent(app, runner, tmp_path):
    code, output = run_import(runner, tmp_path, csv_bytes(GOOD))
    assert code == 0, output
    assert output.splitlines()[0] == "imported 4, skipped 0, errors 0"
    three, four = ratings_of(A)
    assert (three.level, three.status, three.status_changed_on) == (3, RatingStatus.superseded, date(2024, 7, 1))
    assert (four.status, four.granted_on, four.certificate_no, four.batch_label) == (
        RatingStatus.valid, date(2024, 7, 1), "JS-2024-1-4-900001", "第一批")
    assert four.valid_until == date(2027, 6, 30)            # three years, less a day
    (five,) = ratings_of(B)
    assert five.level == 5 and five.granted_on == date(2024, 12, 31)   # no date: 年度-12-31
    firm = db.session.execute(select(Enterprise).where(Enterprise.uscc == B)).scalar_one()
    assert firm.name == "常州乙智造有限公司" and firm.district_code == "320402" and firm.industry is None

    # The same file again changes nothing.
    code, output = run_import(runner, tmp_path, csv_bytes(GOOD))
    assert output.splitlines()[0] == "imported 0, skipped 4, errors 0"
    assert db.session.execute(select(func.count()).select_from(Rating)).scalar_one() == 4
    # A corrected row updates the rating it names.
    fixed = [GOOD[2][:7] + ["2024-05-20"]]
    code, output = run_import(runner, tmp_path, csv_bytes(fixed))
    assert output.splitlines()[0] == "imported 1, skipped 0, errors 0"
    db.session.expire_all()
    assert ratings_of(B)[0].granted_on == date(2024, 5, 20)

    entries = db.session.execute(select(AuditEntry).where(AuditEntry.action == "ratings.import")
                                 .order_by(AuditEntry.id)).scalars().all()
    assert len(entries) == 3
    first = json.loads(entries[0].payload)["data"]
    assert first["imported"] == 4 and first["errors"] == 0 and len(first["sha256"]) == 64
    assert first["filename"] == "list.csv" and first["firms_created"] == 3


def test_bad_rows_are_reported_and_never_stop_good_ones(app, runner, tmp_path):
    rows = [
        GOOD[0],
        ["", C, "320402", "3", "2024", "", "", ""],                               # 3: no name
        ["坏码公司", A[:-1] + ("0" if A[-1] != "0" else "1"), "320402", "3", "2024", "", "", ""],  # 4: check char
        ["外省公司", C, "110101", "3", "2024", "", "", ""],                        # 5: not a county here
        ["星级不对公司", C, "320402", "6", "2024", "", "", ""],                    # 6: level
        ["年度不对公司", C, "320402", "3", "24", "", "", ""],                      # 7: year
        ["日期不对公司", C, "320402", "3", "2024", "", "", "明年"],                # 8: date
        ["常州甲科技有限公司", A, "320402", "3", "2023", "", "第二批", "2023-06-30"],  # 9: same key, other content
        GOOD[0],                                                                   # 10: exact duplicate: skipped
        ["常州丁公司", C, "320402", "4", "2024", "JS-2024-1-4-900001", "", ""],   # 11: fine
        ["常州戊公司", uscc_from_serial(9005), "320402", "3", "2024", "JS-2024-1-4-900001", "", ""],  # 12: number again
        ["未来公司", uscc_from_serial(9006), "320402", "3", "2024", "", "", "2099-01-01"],  # 13: future
    ]
    code, output = run_import(runner, tmp_path, csv_bytes(rows))
    lines = output.splitlines()
    assert code == 0 and lines[0] == "imported 2, skipped 1, errors 9", output
    reasons = dict(line.split(": ", 1) for line in lines[1:])
    assert set(reasons) == {f"row {n}" for n in (3, 4, 5, 6, 7, 8, 9, 12, 13)}
    assert "企业名称" in reasons["row 3"] and "校验码" in reasons["row 4"] and "110101" in reasons["row 5"]
    assert "星级" in reasons["row 6"] and "年度" in reasons["row 7"] and "认定日期" in reasons["row 8"]
    assert "第 2 行" in reasons["row 9"] and "第 11 行" in reasons["row 12"] and "晚于今天" in reasons["row 13"]
    assert [r.level for r in ratings_of(A)] == [3] and [r.level for r in ratings_of(C)] == [4]


@pytest.mark.parametrize("data, message", [
    (b"", "文件为空"),
    (b"\xef\xbb\xbf", "文件为空"),
    (",".join(HEADER).encode("utf-8"), "只有表头"),
    ("企业名称,统一社会信用代码\n甲,1\n".encode("utf-8"), "表头缺少列：区县代码、星级、年度"),
    (csv_bytes([GOOD[0]], bom=False, encoding="gbk"), "GBK"),
    ("\ufeff企业名称,统一社会信用代码".encode("utf-16"), "UTF-16"),
    (b"PK\x03\x04not really a zip", "损坏"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, ".xlsx"),
])
def test_unreadable_files_say_why_and_write_nothing(app, runner, tmp_path, data, message):
    code, output = run_import(runner, tmp_path, data)
    assert code != 0 and message in output, output
    assert db.session.execute(select(func.count()).select_from(Rating)).scalar_one() == 0
    assert db.session.execute(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "ratings.import")).scalar_one() == 0


def test_zip_bomb_disguised_as_xlsx_is_refused(app, runner, tmp_path):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (400 * 1024 * 1024))
    code, output = run_import(runner, tmp_path, out.getvalue(), "bomb.xlsx")
    assert code != 0 and "过大" in output


def test_without_bom_and_as_xlsx_with_typed_cells(app, runner, tmp_path):
    code, output = run_import(runner, tmp_path, csv_bytes(GOOD[:1], bom=False))
    assert output.splitlines()[0] == "imported 1, skipped 0, errors 0"
    # Excel keeps numbers as numbers and dates as dates; the import reads them as such.
    rows = [["常州甲科技有限公司", A, 320402, 4, 2024, "", "第一批", date(2024, 7, 1)],
            ["常州乙智造有限公司", B, 320402.0, 3.0, 2025.0, None, None, None]]
    code, output = run_import(runner, tmp_path, ratings_xlsx_bytes(rows), "list.xlsx")
    assert output.splitlines()[0] == "imported 2, skipped 0, errors 0", output
    assert ratings_of(A)[1].granted_on == date(2024, 7, 1) and ratings_of(B)[0].year == 2025


def test_later_higher_rating_supersedes_and_registration_claims_imported_firms(app, api, runner, tmp_path):
    firm, _token = api.register_firm("320402")
    grant_rating(firm["id"], 4, date(2025, 3, 1))
    code, output = run_import(runner, tmp_path, csv_bytes([
        [firm["name"], firm["uscc"], "320402", "3", "2024", "", "", "2024-01-10"],
        ["常州乙智造有限公司", B, "320402", "3", "2024", "", "", ""]]))
    assert output.splitlines()[0] == "imported 2, skipped 0, errors 0"
    # The firm's own 4★ of 2025 supersedes the imported 3★ of 2024.
    three = [r for r in ratings_of(firm["uscc"]) if r.level == 3][0]
    assert three.status == RatingStatus.superseded and three.status_changed_on == date(2025, 3, 1)

    # The imported firm registers: a claim its county confirms, not refused as a duplicate
    # (tests/accounts/test_enterprise_claims.py has the rest).
    response = api.post("/enterprises", {"name": "常州乙智造有限公司", "uscc": B, "district_code": "320402",
                                         "industry": "C", "scale": "small", "contact_name": "王工",
                                         "contact_phone": "13800000000", "email": "wang@yi.example",
                                         "password": PASSWORD})
    assert response.status_code == 202, response.get_json()
    firm_b = db.session.execute(select(Enterprise).where(Enterprise.uscc == B)).scalar_one()
    assert response.get_json() == {"id": firm_b.id, "status": "pending"} and firm_b.industry is None
    token = api.token("wang@yi.example")
    assert api.get("/ratings", token=token).get_json()["items"] == []
    official = api.token(make_staff("official", "320402").email)
    claim_id = api.get("/enterprise-claims", token=official).get_json()[0]["id"]
    assert api.post(f"/enterprise-claims/{claim_id}/approve", token=official).status_code == 200
    mine = api.get("/ratings", token=token).get_json()
    assert [item["level"] for item in mine["items"]] == [3]
    # Once registered, the code is taken.
    again = api.post("/enterprises", {"name": "常州乙智造有限公司", "uscc": B, "district_code": "320402",
                                      "industry": "C", "scale": "small", "contact_name": "李工",
                                      "contact_phone": "13900000000", "email": "li@yi.example", "password": PASSWORD})
    assert again.status_code == 409, again.get_json()


def test_importer_scope_limits_rows(app, runner, tmp_path):
    county = make_staff("official", "320402")
    code, output = run_import(runner, tmp_path, csv_bytes(GOOD), "list.csv", "--as", county.email)
    lines = output.splitlines()
    assert lines[0] == "imported 3, skipped 0, errors 1" and lines[1].startswith("row 5: ") and "管辖" in lines[1]
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "ratings.import")).scalar_one()
    assert entry.actor_id == county.id


def _page_login(client, email):
    page = client.get("/login")
    client.post("/login", data={"csrf_token": csrf_token(page.text), "email": email, "password": PASSWORD})


def test_upload_page_for_officials(app, tmp_path):
    city = make_staff("official", "320400")
    client = app.test_client()
    _page_login(client, city.email)
    page = client.get("/ratings/import")
    assert page.status_code == 200 and "企业名称,统一社会信用代码,区县代码,星级,年度" in page.text
    token = csrf_token(page.text)
    rows = GOOD + [["坏码公司", "123", "320402", "3", "2024", "", "", ""]]
    response = client.post("/ratings/import", data={"csrf_token": token,
                                                    "file": (io.BytesIO(csv_bytes(rows)), "名单.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert 'data-summary="imported 3, skipped 0, errors 2"' in response.text    # Nanjing is outside 常州
    assert "统一社会信用代码应为18位" in response.text and "名单.csv" in response.text
    # Not a spreadsheet: a clear message, nothing written.
    response = client.post("/ratings/import", data={"csrf_token": token,
                                                    "file": (io.BytesIO(b"\x89PNG\r\n\x1a\n\0\0"), "x.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "不是 CSV 文本" in response.text
    # Without the CSRF token nothing happens.
    response = client.post("/ratings/import", data={"file": (io.BytesIO(csv_bytes(GOOD)), "a.csv")},
                           content_type="multipart/form-data")
    assert response.status_code in (400, 422)
    assert db.session.execute(select(func.count()).select_from(Rating)).scalar_one() == 3
    # Reviewers and firms do not import.
    reviewer = app.test_client()
    _page_login(reviewer, make_staff("reviewer", "320400").email)
    assert reviewer.get("/ratings/import").status_code == 403


# A large list crosses the importer's chunks (imports.CHUNK) several times; how long 50,000
# rows take is the benchmark's (`python -m bench imports`, docs/benchmarks.md), not a test's.
LARGE = 5 * CHUNK + 7


def test_a_large_list_on_postgresql(app, runner, tmp_path):
    rows = big_rows(LARGE)
    code, output = run_import(runner, tmp_path, csv_bytes(rows))
    assert output.splitlines()[0] == f"imported {LARGE}, skipped 0, errors 0", output[:500]
    assert db.session.execute(select(func.count()).select_from(Enterprise)).scalar_one() == LARGE
    assert db.session.execute(select(func.count()).select_from(Rating)).scalar_one() == LARGE
    code, output = run_import(runner, tmp_path, csv_bytes(rows))
    assert output.splitlines()[0] == f"imported 0, skipped {LARGE}, errors 0"


def test_a_large_list_on_sqlite_by_the_command(tmp_path):
    """The embedded default: the real command in its own process on an SQLite file."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "STORAGE_DIR")}
    env["INSTANCE_PATH"] = str(tmp_path / "instance")
    path = tmp_path / "big.xlsx"
    path.write_bytes(ratings_xlsx_bytes(big_rows(LARGE)))
    # A list's levels are those of the guide editions loaded (the install steps of README.md).
    for command in (["db", "upgrade"], ["reference", "load"], ["guides", "load"], ["ratings", "import", str(path)]):
        done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *command], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[0] == f"imported {LARGE}, skipped 0, errors 0"
