"""On a 390 px phone: an official filters the audit log, opens an entry and sees its data and that
the chain verifies; a reviewer declares a conflict with a firm by its credit code and withdraws it."""
from __future__ import annotations

import pytest

from tests.support.factories import make_staff
from tests.support.people import log_in_page

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_an_official_filters_the_log_and_opens_an_entry(app, api, live_server, browser):
    official = make_staff("official", "320400")
    token = api.token(official.email)
    firm, _t = api.register_firm("320402")
    assert api.post("/blacklist", {"enterprise_id": firm["id"], "reason": "伪造上云合同"}, token=token).status_code == 201
    page = browser.new_context(locale="zh-CN", viewport=PHONE).new_page()
    log_in_page(page, live_server, official.email)
    page.get_by_role("link", name="审计日志").click()
    page.wait_for_url("**/audit/")
    assert "哈希链已校验至最新一条" in page.locator("#chain-status").inner_text()
    page.fill("#filter-action", "blacklist.add")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**action=blacklist.add**")
    rows = page.locator("#audit-entries tbody tr")
    assert rows.count() == 1 and "blacklist.add" in rows.first.inner_text()
    assert page.evaluate(FITS)
    rows.first.get_by_role("link").click()
    page.wait_for_url("**/audit/*")
    assert "伪造上云合同" in page.locator("#audit-data").inner_text()
    assert official.name in page.locator("#audit-entry").inner_text()
    assert page.evaluate(FITS)


def test_a_reviewer_declares_and_withdraws_a_conflict(app, api, live_server, browser):
    reviewer = make_staff("reviewer", "320402")
    firm, _t = api.register_firm("320402")
    page = browser.new_context(locale="zh-CN", viewport=PHONE).new_page()
    log_in_page(page, live_server, reviewer.email)
    page.wait_for_url("**/reviews/")
    page.get_by_role("link", name="回避声明").click()
    page.wait_for_url("**/reviews/conflicts/")
    page.fill("#uscc", firm["uscc"])
    page.fill("#note", "亲属在该企业任职")
    page.get_by_role("button", name="提交声明").click()
    assert "已登记回避声明" in page.locator(".flash-success").inner_text()
    assert firm["name"] in page.locator("#conflicts").inner_text()
    assert page.evaluate(FITS)
    page.locator("#conflicts").get_by_role("button", name="撤回").click()
    assert "已撤回回避声明" in page.locator(".flash-success").inner_text()
    assert "暂无回避声明" in page.content()
