"""An official opens the dashboard, filters by level and downloads the list as XLSX; a long
list is built by the worker while the page's progress bar follows it."""
from __future__ import annotations

import io

import openpyxl
import pytest

from tests.support.factories import make_staff
from tests.support.people import log_in_page
from tests.support.servers import free_port, web, worker

pytestmark = pytest.mark.browser


def test_official_filters_the_dashboard_and_downloads_xlsx(app, app_env, dashboard_ratings, browser, tmp_path):
    official = make_staff("official", "320400")
    port = free_port()
    # Lists over three rows go to the worker here, so both paths are seen in one test.
    server = web({**app_env, "EXPORT_ASYNC_ROWS": "3"}, tmp_path, port, workers=1)
    builder = worker(app_env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        page = browser.new_context(locale="zh-CN", accept_downloads=True).new_page()
        page.set_default_timeout(15_000)
        log_in_page(page, base, official.email)
        page.get_by_role("link", name="统计看板").click()
        assert "常州市共有星级上云企业 4 家" in page.get_by_test_id("headline-count").inner_text()
        assert page.get_by_test_id("bar-chart").is_visible() and page.get_by_test_id("line-chart").is_visible()

        page.locator("#level").select_option("4")
        page.get_by_role("button", name="查看").click()
        assert "最高星级为4星级的企业共 1 家" in page.get_by_test_id("headline-count").inner_text()

        export = page.locator("form[action$='/exports']")
        export.locator("select[name=format]").select_option("xlsx")
        assert export.locator("select[name=level]").input_value() == "4"      # the dashboard's filter
        with page.expect_download() as download_info:
            export.get_by_role("button", name="下载").click()
        download = download_info.value
        assert download.suggested_filename.endswith(".xlsx")
        sheet = openpyxl.load_workbook(io.BytesIO(download.path().read_bytes())).active
        assert [row[1].value for row in sheet.iter_rows(min_row=2)] == ["天宁乙"]

        # Every level and status: four rows in 常州, over the threshold of three: the worker builds it.
        page.goto(f"{base}/dashboard")
        export = page.locator("form[action$='/exports']")
        export.locator("select[name=status]").select_option("")
        export.get_by_role("button", name="下载").click()
        page.get_by_test_id("export-progress").filter(has_text="已完成").wait_for(timeout=60_000)
        link = page.get_by_test_id("export-download")
        assert link.is_visible()
        with page.expect_download() as download_info:
            link.click()
        sheet = openpyxl.load_workbook(io.BytesIO(download_info.value.path().read_bytes())).active
        assert len(list(sheet.iter_rows(min_row=2))) == 4
    finally:
        builder.stop()
        server.stop()
