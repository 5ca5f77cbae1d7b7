"""A county reviewer forwards and a city reviewer approves through the HTML pages."""
from __future__ import annotations

import pytest

from tests.support.factories import make_batch, make_staff
from tests.support.flows import scored
from tests.support.people import log_in_page

pytestmark = pytest.mark.browser


def test_county_forwards_and_city_approves(app, api, live_server, browser):
    batch = make_batch("js-2024")
    county = make_staff("reviewer", "320402")
    city = make_staff("reviewer", "320400")
    application_id, firm_token = scored(api, batch, 3)   # scored and routed to the county reviewer

    page = browser.new_context(locale="zh-CN").new_page()
    log_in_page(page, live_server, county.email)
    page.wait_for_url("**/reviews/")
    page.get_by_role("link", name="审核", exact=True).first.click()
    page.wait_for_url(f"**/applications/{application_id}")
    assert "满足申报条件" in page.get_by_test_id("score").inner_text()
    assert page.locator("#decision-approve").count() == 0   # the county cannot approve
    page.check("#decision-forward")
    page.fill("#comment", "材料齐全，同意报送")
    page.click("#decision button[type=submit]")
    page.wait_for_url("**/reviews/#main")
    assert "已办理" in page.locator(".flash-success").inner_text()
    assert "目前没有待审核的申报" in page.content()

    page = browser.new_context(locale="zh-CN").new_page()
    log_in_page(page, live_server, city.email)
    page.goto(f"{live_server}/applications/{application_id}")
    page.check("#decision-return")
    page.click("#decision button[type=submit]")   # a return without a comment is refused
    assert "必须填写意见" in page.locator("#comment-errors").inner_text()
    page.check("#decision-approve")
    page.click("#decision button[type=submit]")
    page.wait_for_url("**/reviews/#main")
    assert api.get(f"/applications/{application_id}", token=firm_token).get_json()["status"] == "approved"
