"""An administrator uploads a guide edition in the browser (a refused one first, its problem
named by path and line) and sees its preview; an official sets a county's quota on a phone
and sees the cap, used and remaining."""
from __future__ import annotations

import pytest
from sqlalchemy import delete

from rating.extensions import db
from rating.models import GuideEdition
from rating.services.reference import GUIDES_DIR
from tests.support.factories import make_batch, make_staff
from tests.support.people import log_in_page

pytestmark = pytest.mark.browser

SHIPPED = (GUIDES_DIR / "js-2024.yaml").read_text(encoding="utf-8")


@pytest.fixture()
def forget_uploads(app):
    yield
    db.session.rollback()
    db.session.execute(delete(GuideEdition).where(GuideEdition.code.notin_(("js-2022", "js-2024"))))
    db.session.commit()


def test_admin_uploads_an_edition_and_an_official_sets_a_quota(app, live_server, browser, forget_uploads):
    batch = make_batch("js-2024")
    admin = make_staff("admin", None)
    page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    log_in_page(page, live_server, admin.email)
    page.get_by_role("link", name="指南版本").click()
    page.wait_for_url("**/guide-editions")
    assert batch.name in page.locator('[data-testid="edition-js-2024"]').inner_text()

    edition = SHIPPED.replace("code: js-2024", "code: js-2051", 1)
    page.fill("#source", edition.replace("pass_score: 75", "pass_score: lots"))
    page.get_by_role("button", name="检查并上传").click()
    problems = page.locator("#edition-problems").inner_text()
    assert "levels.4.pass_score" in problems and "must be a number" in problems
    assert "第" in page.locator("#source-errors").inner_text()            # the line, in the message

    page.fill("#source", edition)
    page.get_by_role("button", name="检查并上传").click()
    page.wait_for_url("**/guide-editions/js-2051")
    assert "已上传指南版本 js-2051" in page.locator(".flash-success").inner_text()
    assert page.locator('[data-testid="sample-3"]').is_visible()
    assert page.locator("#preview-form fieldset").count() > 10

    official = make_staff("official", "320400")
    phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    phone.set_default_timeout(15_000)
    log_in_page(phone, live_server, official.email)
    phone.goto(f"{live_server}/quotas?batch_id={batch.id}")
    phone.select_option("#district_code", "320402")
    phone.select_option("#level", "3")
    phone.check("#kind-0")
    phone.fill("#max_count", "4")
    phone.get_by_role("button", name="保存名额").click()
    assert "上限 4 家" in phone.locator(".flash-success").inner_text()
    cell = phone.locator('[data-testid="quota-320402-3"]').inner_text()
    assert "上限 4" in cell and "剩余 4" in cell
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1
