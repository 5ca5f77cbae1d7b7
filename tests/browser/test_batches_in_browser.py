"""A province official opens a batch in the browser (a mistake first, shown beside its field),
offering levels 3 and 4; a firm then files in it, offered only those levels."""
from __future__ import annotations

from datetime import timedelta

import pytest

from rating import clock
from tests.support.factories import make_staff
from tests.support.people import log_in_page

pytestmark = pytest.mark.browser


def test_province_official_opens_a_batch_and_a_firm_files_in_it(app, api, live_server, browser, page):
    official = make_staff("official", "320000")
    log_in_page(page, live_server, official.email)
    page.get_by_role("link", name="申报批次").first.click()
    page.locator("#new-batch").click()
    today = clock.today()
    page.fill("#name", f"{today.year}年度浏览器批次")
    page.select_option("#guide_edition", "js-2024")
    page.fill("#opens_at", clock.local(clock.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#closes_at", clock.local(clock.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#usage_cutoff", today.isoformat())
    page.fill("#investment_from", f"{today.year - 1}-01-01")
    page.fill("#investment_to", today.isoformat())
    page.locator("input[name=levels][value='3']").check()
    page.locator("input[name=levels][value='4']").check()
    page.locator("input[type=submit]").click()
    assert "截止时间必须晚于开始时间" in page.locator("#closes_at-errors").inner_text()
    page.fill("#closes_at", clock.local(clock.now() + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("input[type=submit]").click()
    page.wait_for_url("**/batches")
    card = page.locator("#batch-list li").first
    assert f"{today.year}年度浏览器批次" in card.inner_text() and "受理中" in card.inner_text()

    api.register_firm("320402", email="batch-firm@example.com")
    firm_context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    firm = firm_context.new_page()
    firm.set_default_timeout(15_000)
    log_in_page(firm, live_server, "batch-firm@example.com")
    firm.wait_for_url("**/applications/")
    assert f"{today.year}年度浏览器批次" in firm.locator("form.card").first.inner_text()
    offered = firm.locator("form.card select").first.locator("option").all_inner_texts()
    assert not any("5" in text for text in offered), offered
    firm.locator("form.card select").first.select_option("3")
    firm.locator("form.card button[type=submit]").first.click()
    firm.wait_for_url("**/edit")
    firm_context.close()

    # The official's pages fit a phone (390 px): nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/batches")
    edit_link = page.locator("#batch-list a[href$='/edit']").first.get_attribute("href")
    for path in ["/batches", "/batches/new", edit_link]:
        page.goto(f"{live_server}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide on a 390 px phone"
