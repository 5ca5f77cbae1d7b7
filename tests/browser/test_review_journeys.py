"""A reviewer and a member of the public as they meet the pages (issue 27): a refused decision
or objection answers next to what it is about, in view on a 390 px phone, with the choice kept;
the review page shows the declared services, payments and effects statement, and the evidence
in the page; the history names the stages; the reviewer finds what they have handled."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from sqlalchemy import select

from rating.extensions import db
from rating.models import OutboxEmail
from tests.support.factories import PDF_BYTES, make_batch, make_staff
from tests.support.flows import approved, notice_body, scored, upload
from tests.support.people import firm_email, log_in_page

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
IN_VIEW = """el => { const r = el.getBoundingClientRect();
                     return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }"""


def in_view(page, selector: str) -> bool:
    """The element is on screen as the page opens: its whole box within the window's height."""
    return page.locator(selector).first.evaluate(IN_VIEW)


def png(width: int = 8, height: int = 8) -> bytes:
    """A real (red) PNG image, which the browser can draw."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture()
def phone(browser):
    context = browser.new_context(locale="zh-CN", viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_refused_decision_answers_beside_the_field_on_a_phone(app, api, live_server, phone):
    batch = make_batch("js-2024")
    county = make_staff("reviewer", "320402", email="journey-county@example.com")
    application_id, _firm = scored(api, batch, 3)
    log_in_page(phone, live_server, county.email)
    phone.wait_for_url("**/reviews/")
    page_url = f"{live_server}/applications/{application_id}"

    # No choice: the message stands by the choices, on screen.
    phone.goto(page_url)
    phone.fill("#comment", "材料齐全")
    phone.click("#decision button[type=submit]")
    assert "请选择决定" in phone.locator("#decision-errors").inner_text()
    assert in_view(phone, "#decision-errors")
    assert phone.input_value("#comment") == "材料齐全"

    # A return without a comment: the message by the comment, on screen, the choice kept.
    phone.goto(page_url)
    phone.check("#decision-return")
    phone.click("#decision button[type=submit]")
    assert "必须填写意见" in phone.locator("#comment-errors").inner_text()
    assert in_view(phone, "#comment-errors")
    assert phone.is_checked("#decision-return")

    # Then forwarded: the queue links the reviewer's handled list, which shows it.
    phone.check("#decision-forward")
    phone.fill("#comment", "材料齐全，同意报送")
    phone.click("#decision button[type=submit]")
    phone.wait_for_url("**/reviews/#main")
    phone.get_by_role("link", name="我的已办").click()
    handled = phone.get_by_test_id("handled").inner_text()
    assert f"#{application_id}" in handled and "报送上级" in handled and "材料齐全，同意报送" in handled

    # The history names the stages; the firm's mail says which stage it is at now.
    phone.goto(page_url)
    history = phone.locator("table.history").inner_text()
    assert "审核中 · 县（市、区）工信局审核 → 审核中 · 设区市工信局评审" in history
    db.session.rollback()
    subjects = db.session.execute(select(OutboxEmail.subject).where(
        OutboxEmail.application_id == application_id, OutboxEmail.kind == "status_changed")).scalars().all()
    assert any(s.endswith("审核中 · 设区市工信局评审") for s in subjects), subjects


def test_objection_on_a_phone_answers_in_view(app, api, live_server, phone, people):
    batch = make_batch("js-2024")
    rated, _firm = approved(api, batch, people)
    notice = api.post("/publicity-notices", notice_body([rated], days=5), token=people["city_official"]).get_json()
    phone.goto(f"{live_server}/publicity/{notice['id']}")

    phone.select_option("#application_id", str(rated))
    phone.fill("#name", "王五")
    phone.fill("#contact", "abc")
    phone.fill("#reason", "不实")
    phone.get_by_role("button", name="提交异议").click()
    assert in_view(phone, "[data-testid=objection-result]")
    result = phone.get_by_test_id("objection-result").inner_text()
    assert "联系方式应为手机号码" in result and "异议理由至少 10 个字" in result
    assert "联系方式应为手机号码" in phone.locator("#contact-errors").inner_text()
    assert phone.input_value("#name") == "王五"

    phone.fill("#contact", "139 1234 5678")
    phone.fill("#reason", "该企业申报的云服务付款记录与合同不符，请核实。")
    phone.get_by_role("button", name="提交异议").click()
    phone.get_by_text("异议已收到").wait_for()
    assert "异议已收到" in phone.get_by_test_id("objection-result").inner_text()
    assert in_view(phone, "[data-testid=objection-result]")

    # The same rule through the API: 422 naming the fields.
    refused = api.post(f"/publicity-notices/{notice['id']}/objections",
                       {"application_id": rated, "name": "张三", "contact": "abc", "reason": "不实"})
    assert refused.status_code == 422
    fields = refused.get_json()["error"]["fields"]
    assert "联系方式应为手机号码" in fields["contact"][0] and "至少 10 个字" in fields["reason"][0]


def test_review_page_shows_what_the_reviewer_checks(app, api, live_server, page):
    batch = make_batch("js-2024")
    county = make_staff("reviewer", "320402", email="journey-county2@example.com")

    def photo(token, application_id):
        assert upload(api, token, application_id, png(), name="现场照片.png").status_code == 201

    application_id, firm = scored(api, batch, 3, before_submit=photo)
    body = api.get(f"/applications/{application_id}", token=firm).get_json()
    log_in_page(page, live_server, county.email)
    page.wait_for_url("**/reviews/")
    page.goto(f"{live_server}/applications/{application_id}")

    services = page.get_by_test_id("declared-services").inner_text()
    for service in body["cloud_services"]:
        assert service["provider"] in services and service["service_name"] in services
        assert service["started_on"] in services
        for payment in service["payments"]:
            assert payment["paid_on"] in services
            assert f"{float(payment['amount']):,.2f}" in services
    assert "基础设施" in services or "IaaS" in services
    statement = page.get_by_test_id("statement-effect_summary").inner_text()
    assert statement == body["answers"]["effect_summary"]

    # The photo inline, drawn; the PDF in a frame, served inline and only framable by the site.
    views = page.get_by_test_id("evidence-view")
    photo_view = views.filter(has=page.locator("img"))
    photo_view.locator("summary").click()
    image = photo_view.locator("img")
    image.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth === 8", arg=image.element_handle())
    pdf_view = views.filter(has=page.locator("iframe")).first
    pdf_view.locator("summary").click()
    source = pdf_view.locator("iframe").get_attribute("src")
    answer = page.request.get(f"{live_server}{source}")
    assert answer.status == 200 and answer.body() == PDF_BYTES
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith("inline")
    assert answer.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    # The page itself keeps its policy: nobody frames it, no plugins in it.
    shown = page.request.get(f"{live_server}/applications/{application_id}")
    assert "frame-ancestors 'none'" in shown.headers["content-security-policy"]
    assert "object-src 'none'" in shown.headers["content-security-policy"]
    assert io.BytesIO(answer.body()).read(5) == b"%PDF-"
