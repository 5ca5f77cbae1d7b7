"""A firm files an application through the HTML pages in a real browser and sees its score."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from rating import clock
from rating.rules.uscc import uscc_from_serial
from rating.services.reference import get_edition
from tests.support.browser import assert_scored
from tests.support.factories import PASSWORD, PDF_BYTES, make_batch

pytestmark = pytest.mark.browser

LONG_TEXT = "上云后生产效率提升约两成，运营成本下降一成，设备故障停机明显减少，质量追溯全程在线，数据口径统一，管理更加精细。"


def fill_answers(page, edition, level) -> None:
    """Answer every indicator of the level with its most favourable value, as a person would."""
    for indicator in edition.indicators_for(level):
        box = page.locator(f"#ind-{indicator.code}")
        if indicator.type == "boolean":
            box.locator("input[value=true]").check()
        elif indicator.type == "choice":
            box.locator("input[type=radio]").last.check()
        elif indicator.type == "multi_choice":
            for checkbox in box.locator("input[type=checkbox]").all():
                checkbox.check()
        elif indicator.type in ("integer", "decimal"):
            value = int(indicator.max) if indicator.max is not None else 100
            if indicator.code == "declared_investment_yuan":
                value = 150000
            box.locator("input:not([type=file])").fill(str(value))
        elif indicator.type == "date":
            box.locator("input:not([type=file])").fill((clock.today() - timedelta(days=3 * 365)).isoformat())
        else:
            box.locator("textarea").fill(LONG_TEXT)


def test_firm_files_and_sees_its_score(app, live_server, page, tmp_path):
    batch = make_batch("js-2024")
    edition = get_edition(batch.edition_code)

    # Register, first with a mistyped credit code.
    page.goto(f"{live_server}/register")
    page.fill("#name", "常州浏览器测试智能装备有限公司")
    good_code = uscc_from_serial(777)
    page.fill("#uscc", good_code[:-1] + ("0" if good_code[-1] != "0" else "1"))
    page.select_option("#district_code", "320402")
    page.select_option("#industry", "C")
    page.select_option("#scale", "medium")
    page.fill("#contact_name", "李工")
    page.fill("#contact_phone", "0519-86660000")
    page.fill("#email", "browser@example.com")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("input[type=submit]")
    assert page.locator(".has-error #uscc").count() == 1
    assert "校验码" in page.locator("#uscc-errors").inner_text()
    page.fill("#uscc", good_code)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/applications/")

    # Start an application for the open batch.
    page.locator("form.card select").first.select_option("3")
    page.locator("form.card button[type=submit]").first.click()
    page.wait_for_url("**/edit")
    assert page.get_by_test_id("completeness").inner_text() == "0%"

    # Fill it in, with one mistake the server catches.
    fill_answers(page, edition, 3)
    page.locator("#ind-business_app_count input").fill("-5")
    today = clock.today()
    page.fill("#cloud_services-0-provider", "天翼云")
    page.fill("#cloud_services-0-service_name", "云主机与对象存储")
    page.select_option("#cloud_services-0-category", "iaas")
    page.select_option("#cloud_services-0-deployment", "public")
    page.fill("#cloud_services-0-started_on", (today - timedelta(days=400)).isoformat())
    page.fill("#cloud_services-0-payments-0-paid_on", (today - timedelta(days=30)).isoformat())
    page.fill("#cloud_services-0-payments-0-amount", "150000")
    page.click("#save")
    assert "不能小于" in page.locator("#ind-business_app_count").inner_text()
    page.locator("#ind-business_app_count input").fill("12")
    page.click("#save")
    assert "草稿已保存" in page.locator(".flash-success").inner_text()

    # Evidence for every indicator that needs it.
    evidence = tmp_path / "合同.pdf"
    evidence.write_bytes(PDF_BYTES)
    for indicator in edition.indicators_for(3):
        if indicator.evidence_required:
            page.set_input_files(f"#file-{indicator.code}", str(evidence))
            page.locator(f"#ind-{indicator.code} .upload button").click()
            page.wait_for_load_state()
    assert page.get_by_test_id("completeness").inner_text() == "100%"

    # Pledge and submit; the worker scores it.
    page.check("#pledge")
    page.click("#submission input[type=submit]")
    page.wait_for_url("**/applications/*")
    assert_scored(page)
    page.screenshot(path=str(tmp_path / "scored.png"), full_page=True)


