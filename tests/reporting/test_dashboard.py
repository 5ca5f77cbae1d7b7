"""The officials' dashboard (scoped headline, rank, tables, trend, SVG charts) and list
downloads: short ones at once, long ones and the printable PDF through a real worker."""
from __future__ import annotations

import io
import re
import subprocess
import time
from datetime import date, timedelta

import openpyxl
import pytest
from sqlalchemy import select, update

from rating import clock
from rating.extensions import db
from rating.models import Enterprise, ExportJob
from tests.support.factories import make_staff
from tests.support.files import read_csv
from tests.support.flows import export
from tests.support.people import csrf_token, logged_in
from tests.support.servers import worker

pytestmark = pytest.mark.integration


def test_city_dashboard_headline_rank_table_and_charts(app, dashboard_ratings):
    city = logged_in(app, make_staff("official", "320400").email)
    page = city.get("/dashboard")
    assert page.status_code == 200
    text = page.text
    assert re.search(r"常州市共有星级上云企业 4 家", text)
    assert "全省第 1 名（共 13 个设区市）" in text
    table = text[text.index('data-testid="division-table"'):]
    assert "天宁区" in table and "新北区" in table and "玄武区" not in table    # only the city's counties
    assert 'data-testid="bar-chart"' in text and 'data-testid="line-chart"' in text
    assert text.count('class="bar"') == len(re.findall(r"<tr><td>\d+</td><th scope=\"row\">", table))
    assert "<script" not in text[text.index("<main"):text.index("</main>")] if "<main" in text else True

    # Filtered by level: whose highest rating is 3★.
    three = city.get("/dashboard?level=3").text
    assert "常州市最高星级为3星级的企业共 2 家" in three
    # Nanjing has one valid firm: 常州 4, 南京 1, the rest 0.
    nanjing = logged_in(app, make_staff("official", "320100").email).get("/dashboard").text
    assert "南京市共有星级上云企业 1 家" in nanjing and "全省第 2 名" in nanjing


def test_county_and_province_dashboards(app, dashboard_ratings):
    county = logged_in(app, make_staff("official", "320402").email).get("/dashboard").text
    assert "天宁区共有星级上云企业 3 家" in county and "全省第 1 名" in county and "全市第 1 名" in county
    province = logged_in(app, make_staff("official", "320000").email).get("/dashboard")
    assert "江苏省共有星级上云企业 5 家" in province.text
    # The trend: at the end of 2022 the Wuxi firm held its 4★.
    trend = province.text[province.text.index('data-testid="trend-table"'):]
    row_2022 = re.search(r"<th scope=\"row\">2022</th>(.*?)</tr>", trend, re.S).group(1)
    cells = re.findall(r"<td>(\d+)</td>", row_2022)
    assert cells[2:4] == ["1", "1"]                       # 4★: held at year end, granted that year


def test_dashboard_is_for_officials_and_bad_filters_do_not_fail(app, dashboard_ratings):
    assert logged_in(app, make_staff("reviewer", "320400").email).get("/dashboard").status_code == 403
    official = logged_in(app, make_staff("official", "320400").email)
    bad = official.get("/dashboard?on=2024-13-45&level=9")
    assert bad.status_code == 422 and "请输入正确的日期" in bad.text
    assert app.test_client().get("/dashboard").status_code in (302, 401)


def test_short_exports_download_at_once_in_scope(app, dashboard_ratings):
    county = logged_in(app, make_staff("official", "320402").email)
    response = export(county, format="xlsx")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    names = sorted(row[1].value for row in sheet.iter_rows(min_row=2))
    assert names == ["天宁丙", "天宁乙", "天宁甲"]
    rows = read_csv(export(county, format="csv", level="4").data)
    assert [r[1] for r in rows[1:]] == ["天宁乙"]
    assert export(county, format="docx").status_code == 302     # refused with a message, nothing built


def test_an_export_job_is_recorded_in_the_callers_transaction(app, monkeypatch):
    """Requesting an export writes the job and records its task; the request commits, and
    only then is the task published. Rolled back, neither stays."""
    from rating.platform import jobs
    from rating.services.reporting import export_jobs

    published = []
    monkeypatch.setattr(jobs, "publish", lambda task, *args, **_kw: published.append((task, args)))
    official = make_staff("official", "320000")
    export_jobs.request(official, "csv", {"status": ""}, 3)
    db.session.rollback()
    assert db.session.execute(select(ExportJob)).first() is None and published == []
    job = export_jobs.request(official, "csv", {"status": ""}, 3)
    assert published == []
    db.session.commit()
    assert published == [(jobs.BUILD_EXPORT, (job.id,))]


def test_long_list_and_pdf_are_built_by_a_worker(app, app_env, dashboard_ratings, log_dir, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_ASYNC_ROWS", 2)
    province = make_staff("official", "320000")
    client = logged_in(app, province.email)
    response = export(client, format="csv", status="")
    assert response.status_code == 302 and "/exports/" in response.headers["Location"]
    job_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    page = client.get(f"/exports/{job_id}")
    assert 'data-poll="1"' in page.text and "export-progress" in page.text
    pdf = export(client, format="pdf", status="")
    pdf_id = int(pdf.headers["Location"].rstrip("/").split("/")[-1])
    # Another official cannot see the job.
    other = logged_in(app, make_staff("official", "320400").email)
    assert other.get(f"/exports/{job_id}/progress").status_code == 404

    proc = worker({**app_env, "SWEEP_INTERVAL_SECONDS": "1", "SWEEP_GRACE_SECONDS": "2"}, log_dir)
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            states = [client.get(f"/exports/{n}/progress").get_json() for n in (job_id, pdf_id)]
            if all(s["finished"] for s in states):
                break
            time.sleep(0.5)
    finally:
        proc.stop()
    assert [s["state"] for s in states] == ["done", "done"], (states, proc.output()[-3000:])
    assert states[0]["done"] == states[0]["total"] == 7
    rows = read_csv(client.get(states[0]["download_url"]).data)
    assert len(rows) == 1 + 7                               # every status, the whole province
    assert other.get(states[0]["download_url"]).status_code == 404

    pdf_file = client.get(states[1]["download_url"])
    assert pdf_file.mimetype == "application/pdf" and pdf_file.data.startswith(b"%PDF-")
    path = log_dir / "list.pdf"
    path.write_bytes(pdf_file.data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True).stdout
    assert "江苏省星级上云企业认定名单" in text and "天宁丙" in text and re.search(r"1\s*/\s*1\s*$", text.strip())
    job = db.session.get(ExportJob, job_id)
    assert job.file_name and job.size > 0


def trend(page: str, year: int) -> list[int]:
    """The trend table's row for `year`: 3★ held at the year's end, 3★ granted that year, 4★ …, 5★ …"""
    table = page[page.index('data-testid="trend-table"'):]
    return [int(n) for n in re.findall(r"<td>(\d+)</td>",
                                       re.search(rf'<th scope="row">{year}</th>(.*?)</tr>', table, re.S).group(1))]


def test_counts_follow_revocations_and_imports_at_once(app, api, runner, dashboard_ratings, tmp_path):
    from rating.models import CountedDay, CountedGrants, Rating
    from rating.rules.uscc import uscc_from_serial

    rating = db.session.execute(select(Rating).where(Rating.enterprise_id == dashboard_ratings["天宁丙"]["id"])).scalar_one()
    rating.certificate_no = "JS-2026-1-5-777777"
    db.session.commit()
    official = make_staff("official", "320400")
    client = logged_in(app, official.email)
    first = client.get("/dashboard").text
    assert "常州市共有星级上云企业 4 家" in first
    assert db.session.execute(select(CountedDay.day)).scalars().all()          # stored, read from now on
    assert db.session.get(CountedGrants, 1) is not None                        # the granted counts too
    last_year = clock.today().year - 1
    assert trend(first, rating.year)[5] == 1                                   # 5★ granted that year
    four_last_year = trend(first, last_year)[3]
    assert "常州市共有星级上云企业 4 家" in client.get("/dashboard").text      # built from the stored counts
    revoked = api.post(f"/ratings/{rating.certificate_no}/revoke", {"reason": "材料不实"}, token=api.token(official.email))
    assert revoked.status_code == 200
    page = client.get("/dashboard").text
    assert "常州市共有星级上云企业 3 家" in page                                # recomputed in the revocation's transaction
    assert trend(page, rating.year)[5] == 1          # revoked since, but still granted for that year

    path = tmp_path / "list.csv"
    path.write_text("企业名称,统一社会信用代码,区县代码,星级,年度\n"
                    f"新北导入,{uscc_from_serial(8801, division='320411')},320411,4,{clock.today().year - 1}\n",
                    encoding="utf-8")
    assert runner.invoke(args=["ratings", "import", str(path)]).output.startswith("imported 1,")
    after = client.get("/dashboard").text
    assert "常州市共有星级上云企业 4 家" in after
    assert trend(after, last_year)[3] == four_last_year + 1                    # the imported 4★, counted again


def test_stored_granted_counts_follow_a_grant_and_a_move_in_their_transaction(app, dashboard_ratings):
    """What publicity's grant and a firm's registration in another district do to the stored
    granted counts: recomputed in the same transaction, not only when they are filled."""
    from rating.models import CountedGrants, Jurisdiction, Rating
    from rating.services.reporting import aggregates

    changzhou, nanjing = db.session.get(Jurisdiction, "320400"), db.session.get(Jurisdiction, "320100")
    today = clock.today()
    first, last = today.year - 5, today.year
    before = aggregates.granted(changzhou, first, last)                    # fills the stored counts
    assert db.session.get(CountedGrants, 1) is not None
    firm = dashboard_ratings["新北甲"]["id"]                                           # 320411, one 3★
    own = db.session.execute(select(Rating.level, Rating.year).where(Rating.enterprise_id == firm)).all()

    db.session.add(Rating(enterprise_id=firm, level=4, year=today.year, granted_on=today,
                          valid_until=today + timedelta(days=3 * 365), status="valid"))
    db.session.flush()
    aggregates.refresh_firm(firm)                                          # as publicity's grant does
    db.session.commit()
    after_grant = aggregates.granted(changzhou, first, last)
    assert after_grant[(4, today.year)] == before.get((4, today.year), 0) + 1

    nanjing_before = aggregates.granted(nanjing, first, last)
    db.session.execute(update(Enterprise).where(Enterprise.id == firm).values(district_code="320102"))
    aggregates.refresh_district("320411")                                  # as a registration elsewhere does
    aggregates.refresh_district("320102")
    db.session.commit()
    moved = own + [(4, today.year)]
    for level, year in moved:
        mine = sum(1 for m in moved if m == (level, year))
        assert aggregates.granted(changzhou, first, last).get((level, year), 0) == after_grant[(level, year)] - mine
        assert aggregates.granted(nanjing, first, last)[(level, year)] == nanjing_before.get((level, year), 0) + mine


def test_first_requests_of_a_day_fill_its_counts_once_side_by_side(app, dashboard_ratings):
    """Officials opening the dashboard at the same moment on a day not yet counted (each
    morning): every request answers, and the day's counts are stored once. The claim on the
    day used to read the insert's row count, which psycopg reports as -1 there: every
    request thought it had claimed the day and all but one failed on duplicate rows."""
    import threading

    from rating.models import CountedDay, DistrictLevelCount, Jurisdiction
    from rating.services.reporting import aggregates, dashboard

    today = clock.today()
    db.session.commit()
    assert db.session.get(CountedDay, today) is None
    start, boards, errors = threading.Barrier(6), [], []

    def official_opens_the_page():
        with app.app_context():
            try:
                start.wait()
                scope = db.session.get(Jurisdiction, "320400")
                boards.append(dashboard.build(scope, today).headline.count)
            except Exception as exc:  # the assertion below names it
                errors.append(repr(exc))

    threads = [threading.Thread(target=official_opens_the_page) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert boards == [4] * 6                      # 常州: 天宁甲, 乙, 丙 and 新北甲
    stored = db.session.execute(select(DistrictLevelCount.district_code, DistrictLevelCount.level,
                                       DistrictLevelCount.firms).where(DistrictLevelCount.day == today)).all()
    computed = db.session.execute(aggregates._counts(today)).all()
    assert sorted(stored) == sorted(computed) and len(stored) == len(set((d, lv) for d, lv, _n in stored))


def test_officials_of_a_scope_each_see_their_own_name_and_token(app, dashboard_ratings):
    """Officials of the same scope see the same figures, each with their own (escaped)
    name and the CSRF token of their own session, with which their download works.
    Flashed messages are shown, then gone."""
    from flask import template_rendered

    first, second = make_staff("official", "320400"), make_staff("official", "320400")
    first.name, second.name = "常州统计员", "<i>李</i>&审核"
    db.session.commit()
    one, two = logged_in(app, first.email), logged_in(app, second.email)
    one.get("/dashboard")                                             # fills the day's counts: a commit
    rendered = []

    def record(_sender, template, **_extra):
        rendered.append(template.name)

    with template_rendered.connected_to(record, app):
        mine, theirs = one.get("/dashboard").text, two.get("/dashboard").text
    assert rendered.count("dashboard/show.html") == 2                 # each request renders its page
    assert rendered.count("dashboard/_figures.html") == 1             # the figures once (reporting.cache)
    assert "常州市共有星级上云企业 4 家" in mine and "常州市共有星级上云企业 4 家" in theirs
    assert "常州统计员" in mine and "李" not in mine
    assert "&lt;i&gt;李&lt;/i&gt;&amp;审核" in theirs and "常州统计员" not in theirs and "<i>李" not in theirs
    assert csrf_token(mine) != csrf_token(theirs)
    assert theirs.count(csrf_token(theirs)) == 2                       # the export form and the logout form
    data = {"csrf_token": csrf_token(theirs), "format": "csv", "level": "", "status": "valid", "year": ""}
    download = two.post("/exports", data=data)
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]

    data["format"] = "docx"
    refused = two.post("/exports", data=data, follow_redirects=True)
    assert refused.status_code == 200 and 'class="flash flash-error"' in refused.text
    assert "<i>李" not in refused.text
    assert 'class="flash' not in two.get("/dashboard").text


def test_a_dashboard_shows_nothing_of_another_official(app, dashboard_ratings):
    """One official's page, asked for right after another's, carries nothing of the
    other: not their name, not their email, not their CSRF token."""
    first, second = make_staff("official", "320400"), make_staff("official", "320400")
    first.name, second.name = "常州统计员甲", "常州统计员乙"
    db.session.commit()
    one, two = logged_in(app, first.email), logged_in(app, second.email)
    mine = one.get("/dashboard").text
    theirs = two.get("/dashboard").text
    assert first.name in mine and first.name not in theirs and first.email not in theirs
    assert second.name in theirs and second.name not in mine and second.email not in mine
    assert csrf_token(mine) not in theirs and csrf_token(theirs) not in mine


def test_reviewers_queue_pages_and_the_dashboard_are_rendered_for_each_request(app, dashboard_ratings):
    """No page is kept from one request for another: reviewers' queue pages and the
    officials' dashboard are each rendered afresh."""
    from flask import template_rendered

    official, reviewer = make_staff("official", "320400"), make_staff("reviewer", "320402")
    db.session.commit()
    boss, clerk = logged_in(app, official.email), logged_in(app, reviewer.email)
    boss.get("/dashboard")                                            # fills the day's counts: a commit
    rendered = []

    def record(_sender, template, **_extra):
        if template.name in ("dashboard/show.html", "reviews/queue.html"):
            rendered.append(template.name)

    with template_rendered.connected_to(record, app):
        assert boss.get("/dashboard").status_code == 200
        for query in ("", "?level=3", "?level=4", "?overdue=1", "?level=5"):
            assert clerk.get(f"/reviews/{query}").status_code == 200
        assert boss.get("/dashboard").status_code == 200
    assert rendered == ["dashboard/show.html"] + ["reviews/queue.html"] * 5 + ["dashboard/show.html"]
