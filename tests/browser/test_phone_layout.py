"""On a phone (390 px wide) no page is wider than the screen: a wide table scrolls inside
itself, and nothing (a visually hidden header, a form field) pushes the page sideways."""
from __future__ import annotations

import pytest

from tests.support.factories import make_batch, make_staff
from tests.support.flows import approved, notice_body, scored
from tests.support.people import firm_email, log_in_page

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture()
def phone(browser):
    context = browser.new_context(locale="zh-CN", viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def assert_fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']} px phone"


def test_pages_fit_a_phone(app, api, live_server, phone):
    batch = make_batch("js-2024")
    tokens = {name: api.token(make_staff(role, code).email) for name, role, code in [
        ("county", "reviewer", "320402"), ("city", "reviewer", "320400"), ("city_official", "official", "320400")]}
    rated, _firm = approved(api, batch, tokens)
    notice = api.post("/publicity-notices", notice_body([rated]), token=tokens["city_official"]).get_json()
    application_id, _token = scored(api, batch, 3)

    for path in ["/", "/register", "/totals", f"/publicity/{notice['id']}"]:
        phone.goto(f"{live_server}{path}")
        assert_fits(phone)
    log_in_page(phone, live_server, firm_email(application_id))
    phone.wait_for_url("**/applications/")
    for path in ["/applications/", f"/applications/{application_id}", "/ratings/"]:
        phone.goto(f"{live_server}{path}")
        assert_fits(phone)
    phone.get_by_role("button", name="退出").click()
    official = make_staff("official", "320400", email="phone-official@example.com")
    log_in_page(phone, live_server, official.email)
    for path in ["/dashboard", "/reviews/", "/reviews/overview", f"/publicity/{notice['id']}/manage",
                 "/publicity/manage"]:
        phone.goto(f"{live_server}{path}")
        assert_fits(phone)
