"""An official closes a notice and watches the certificates render; the firm downloads its own."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from rating.extensions import db
from rating.models import Certificate, Rating, User
from tests.support.factories import make_staff
from tests.support.flows import approved, notice_body
from tests.support.pdf import pdf_text
from tests.support.people import log_in_page

pytestmark = pytest.mark.browser


def test_progress_bar_and_download(app, api, live_server, browser):
    from tests.support.factories import make_batch

    batch = make_batch("js-2024")
    staff = {name: make_staff(role, code) for name, role, code in [
        ("county", "reviewer", "320402"), ("city", "reviewer", "320400"), ("city_official", "official", "320400")]}
    tokens = {name: api.token(user.email) for name, user in staff.items()}
    ids = [approved(api, batch, tokens)[0] for _ in range(3)]
    notice_id = api.post("/publicity-notices", notice_body(ids), token=tokens["city_official"]).get_json()["id"]

    page = browser.new_context(locale="zh-CN").new_page()
    log_in_page(page, live_server, staff["city_official"].email)
    page.goto(f"{live_server}/publicity/{notice_id}/manage")
    page.get_by_role("button", name="结束公示并认定").click()
    assert "3 家予以认定" in page.locator(".flash-success").inner_text()
    # The page polls while the worker renders; the bar and its text reach the total by themselves.
    progress = page.get_by_test_id("certificate-progress")
    progress.filter(has_text="已生成 3 / 3 份").wait_for(timeout=60_000)
    assert page.locator("#certificate-progress").get_attribute("value") == "3"

    page.get_by_role("button", name="重新生成本公示全部证书").click()
    assert "已提交 3 份证书的生成" in page.locator(".flash-success").inner_text()
    progress.filter(has_text="已生成 3 / 3 份").wait_for(timeout=60_000)
    db.session.rollback()
    generations = db.session.execute(select(Certificate.rendered_generation)).scalars().all()
    assert generations == [2, 2, 2]

    rating = db.session.execute(select(Rating).where(Rating.application_id == ids[0])).scalar_one()
    firm_email = db.session.execute(select(User.email).where(User.enterprise_id == rating.enterprise_id)).scalar_one()
    firm = browser.new_context(locale="zh-CN", accept_downloads=True).new_page()
    log_in_page(firm, live_server, firm_email)
    firm.get_by_role("link", name="我的证书").click()
    firm.get_by_role("link", name=rating.certificate_no).click()
    with firm.expect_download() as download_info:
        firm.get_by_test_id("download").click()
    data = open(download_info.value.path(), "rb").read()
    assert hashlib.sha256(data).hexdigest() == db.session.get(Certificate, rating.id).sha256
    assert rating.enterprise.name in pdf_text(data).splitlines()

    # The QR code's page, as a phone would open it.
    firm.goto(f"{live_server}/verify/{rating.certificate_no}")
    assert firm.get_by_test_id("verify-status").inner_text() == "有效"
