"""Star levels come from the guide editions, never from a fixed 3, 4, 5: a city edition with
levels 1-5, loaded as `flask guides load` loads one, is filed against, imported, filtered,
totalled, shown on the dashboard and exported with its levels 1 and 2."""
from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
import yaml
from sqlalchemy import delete, select, text

from rating import clock
from rating.extensions import db
from rating.models import Batch, Enterprise, GuideEdition, Rating
from rating.rules.uscc import uscc_from_serial
from rating.services.reference import GUIDES_DIR, all_levels
from tests.support.factories import make_batch, make_staff
from tests.support.files import csv_bytes, read_csv
from tests.support.flows import export, file_everything
from tests.support.people import logged_in

pytestmark = pytest.mark.integration

CODE = "js-city-2024"
FIRST, SECOND = (uscc_from_serial(n, division="320402") for n in (9101, 9102))


@pytest.fixture()
def city_edition(app, runner, tmp_path):
    """The shipped js-2024 edition as a city's, with two levels below its 3★ (stepwise, so
    an unrated firm starts at 1★); removed afterwards, since editions outlive a test."""
    document = yaml.safe_load((GUIDES_DIR / "js-2024.yaml").read_text(encoding="utf-8"))
    three = document["levels"][3]
    document.update(code=CODE, title="常州市星级上云企业评定指南（示意）", title_en="Changzhou city guide (illustrative)")
    document["levels"] = {
        1: {**three, "name": "一星级上云企业", "name_en": "One-star cloud enterprise", "min_investment_yuan": 20000,
            "pass_score": 30, "requires_level": None, "final_stage": "county", "reward_yuan": 10000},
        2: {**three, "name": "二星级上云企业", "name_en": "Two-star cloud enterprise", "min_investment_yuan": 50000,
            "pass_score": 40, "requires_level": 1, "reward_yuan": 20000},
        **document["levels"],
    }
    document["levels"][3] = {**three, "requires_level": 2}
    path = tmp_path / f"{CODE}.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(args=["guides", "load", str(path)])
    assert result.exit_code == 0 and f"{CODE}.yaml: created" in result.output, result.output
    yield CODE
    db.session.rollback()
    # What this test made that uses the edition (batches, and what hangs on them) goes with it.
    db.session.execute(text("TRUNCATE batches, ratings RESTART IDENTITY CASCADE"))
    db.session.execute(delete(GuideEdition).where(GuideEdition.code == CODE))
    db.session.commit()
    assert all_levels() == (3, 4, 5)


def test_a_city_edition_with_levels_1_to_5_everywhere(app, api, runner, tmp_path, city_edition):
    assert all_levels() == (1, 2, 3, 4, 5)

    # Filing: an unrated firm applies for the edition's first level in a batch of it.
    batch = make_batch(city_edition)
    _firm, token = api.register_firm("320402", email="first-star@example.com")
    offered = logged_in(app, "first-star@example.com").get("/applications/")
    assert offered.status_code == 200 and '<option value="1">一星级上云企业（1★）</option>' in offered.text
    assert '<option value="2">' not in offered.text               # stepwise: 1★ first
    filed = file_everything(api, token, batch, level=1)
    assert filed["target_level"] == 1 and filed["status"] == "draft"

    # Importing a list with levels 1 and 2 (written as a numeral and in Chinese).
    granted = clock.today() - timedelta(days=20)
    rows = [["常州一星有限公司", FIRST, "320402", "1", str(granted.year), "", "", granted.isoformat()],
            ["常州二星有限公司", SECOND, "320402", "二星级", str(granted.year), "", "", granted.isoformat()],
            ["常州六星有限公司", uscc_from_serial(9103, division="320402"), "320402", "6", str(granted.year),
             "", "", ""]]
    path = tmp_path / "list.csv"
    path.write_bytes(csv_bytes(rows))
    output = runner.invoke(args=["ratings", "import", str(path)]).output.splitlines()
    assert output[0] == "imported 2, skipped 0, errors 1", output
    assert output[1].startswith("row 4: ") and "1、2、3、4、5" in output[1]
    levels = dict(db.session.execute(select(Enterprise.uscc, Rating.level).join(Rating.enterprise)).all())
    assert levels == {FIRST: 1, SECOND: 2}

    official = make_staff("official", "320400")
    bearer = api.token(official.email)

    # Filters: the list of ratings, in the API and on the officials' page.
    for level, uscc in ((1, FIRST), (2, SECOND)):
        listed = api.get(f"/ratings?level={level}", token=bearer)
        assert listed.status_code == 200, listed.get_json()
        assert [(i["enterprise"]["uscc"], i["level"]) for i in listed.get_json()["items"]] == [(uscc, level)]
    assert api.get("/ratings?level=6", token=bearer).status_code == 422       # no edition has it
    client = logged_in(app, official.email)
    page = client.get("/ratings/?level=1")
    assert page.status_code == 200 and '<option value="1" selected>' in page.text
    assert "常州一星有限公司" in page.text and "常州二星有限公司" not in page.text

    # Totals by level, and filtered by a level.
    by_level = api.get("/totals?group_by=level").get_json()
    assert {row["key"]: row["count"] for row in by_level["rows"]} == {"1": 1, "2": 1}
    cities = api.get("/totals?group_by=city&level=2").get_json()
    assert cities["total"] == 1 and {r["key"]: r["count"] for r in cities["rows"]}["320400"] == 1
    public = app.test_client().get("/totals")
    assert public.status_code == 200 and "1星级" in public.text and "2星级" in public.text

    # The dashboard: its columns, trend and filter have levels 1 and 2.
    board = client.get("/dashboard")
    assert board.status_code == 200
    for level in (1, 2):
        assert f"{level}星级：年末有效" in board.text and f'<option value="{level}">' in board.text
    division = board.text[board.text.index('data-testid="division-table"'):]
    header = division[:division.index("</thead>")]
    assert [f"{n}星级" in header for n in range(1, 6)] == [True] * 5
    filtered = client.get("/dashboard?level=1")
    assert filtered.status_code == 200 and "最高星级为1星级的企业共 1 家" in filtered.text

    # Exports: the XLSX of every level holds both, the CSV of level 2 only its rating.
    sheet = openpyxl.load_workbook(io.BytesIO(export(client, format="xlsx").data)).active
    assert sorted(row[1].value for row in sheet.iter_rows(min_row=2)) == ["常州一星有限公司", "常州二星有限公司"]
    rows = read_csv(export(client, format="csv", level="2").data)
    assert [r[1] for r in rows[1:]] == ["常州二星有限公司"]
    api_csv = api.get("/exports/ratings.csv?level=1", token=bearer)
    assert api_csv.status_code == 200 and "常州一星有限公司" in api_csv.get_data(as_text=True)
    assert "常州二星有限公司" not in api_csv.get_data(as_text=True)
    assert db.session.execute(select(Batch.edition_code)).scalar_one() == CODE
