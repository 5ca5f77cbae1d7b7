"""Every kind of user's main pages pass axe-core's WCAG 2.1 A and AA rules (which GB/T 37668
follows), and a firm can file an application with the keyboard alone."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from rating import clock
from rating.extensions import db
from rating.services.reference import get_edition
from tests.support.browser import assert_scored
from tests.support.claims import claim_body
from tests.support.factories import PASSWORD, PDF_BYTES, grant_rating, make_batch, make_staff
from tests.support.flows import approved, notice_body, scored
from tests.support.people import firm_email, log_in_page

pytestmark = pytest.mark.browser

# Fetched from the npm registry by `make axe` (package.json pins the version).
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture()
def axe_page(browser):
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make axe` (npm ci) first")
    # The app's Content-Security-Policy allows no inline script, so axe could not be injected
    # into its pages; these tests alone bypass it, the others keep testing the real policy.
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def violations(page) -> list[dict]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_21_AA)
    return result["violations"]


def assert_accessible(page) -> None:
    found = violations(page)
    report = "\n".join(
        f"  {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        + (f" and {len(v['nodes']) - 3} more" if len(v["nodes"]) > 3 else "")
        for v in found)
    assert not found, f"{page.url} fails WCAG 2.1 AA:\n{report}"


def test_public_pages(app, api, live_server, axe_page):
    batch = make_batch("js-2024")
    staff = {"county": ("reviewer", "320402"), "city": ("reviewer", "320400"),
             "city_official": ("official", "320400")}
    tokens = {name: api.token(make_staff(role, code).email) for name, (role, code) in staff.items()}
    application_id, _ = approved(api, batch, tokens)
    notice = api.post("/publicity-notices", notice_body([application_id]), token=tokens["city_official"])
    notice = notice.get_json()
    held = grant_rating(api.register_firm("320402")[0]["id"], 3)
    held.certificate_no = "JS-2026-3-000001"
    db.session.commit()

    page = axe_page
    for path in ["/", "/login", "/register", "/publicity/", f"/publicity/{notice['id']}", "/totals",
                 f"/verify/{held.certificate_no}", "/password/forgot"]:
        page.goto(f"{live_server}{path}")
        assert_accessible(page)

    # A refused form shows its errors beside the fields.
    page.goto(f"{live_server}/register")
    page.fill("#uscc", "123")
    page.locator("input[type=submit]").click()
    assert page.locator(".has-error #uscc").count() == 1
    # The hint and the error are read with the field, not only shown beside it.
    assert page.locator("#uscc").get_attribute("aria-describedby") == "uscc-hint uscc-errors"
    assert page.locator("#uscc").get_attribute("aria-invalid") == "true"
    assert_accessible(page)
    page.goto(f"{live_server}/login")
    page.fill("#email", "nobody@example.com")
    page.fill("#password", "wrong-password-1")
    page.locator("input[type=submit]").click()
    assert_accessible(page)

    # And in English.
    page.goto(f"{live_server}/lang/en")
    for path in ["/", "/register"]:
        page.goto(f"{live_server}{path}")
        assert page.locator("html").get_attribute("lang") == "en"
        assert_accessible(page)


def test_firm_pages(app, api, live_server, axe_page):
    batch = make_batch("js-2024")
    application_id, _token = scored(api, batch, 3)
    page = axe_page
    log_in_page(page, live_server, firm_email(application_id))
    page.wait_for_url("**/applications/")
    assert_accessible(page)
    page.goto(f"{live_server}/ratings/")
    assert_accessible(page)

    page.goto(f"{live_server}/applications/{application_id}")
    assert "满足申报条件" in page.get_by_test_id("score").inner_text()
    assert_accessible(page)

    # A new draft, saved with a mistake the server catches.
    _firm, token = api.register_firm("320402")
    draft = api.post("/applications", {"batch_id": batch.id, "target_level": 3}, token=token).get_json()
    page.goto(f"{live_server}/applications/")
    page.get_by_role("button", name="退出").click()
    log_in_page(page, live_server, firm_email(draft["id"]))
    page.goto(f"{live_server}/applications/{draft['id']}/edit")
    assert_accessible(page)
    page.locator("#ind-business_app_count input").fill("-5")
    page.click("#save")
    field = page.locator("#ind-business_app_count input")
    assert "不能小于" in page.locator(f"#{field.get_attribute('aria-describedby')}").inner_text()
    assert_accessible(page)


def test_reviewer_pages(app, api, live_server, axe_page):
    batch = make_batch("js-2024")
    county = make_staff("reviewer", "320402")
    application_id, _token = scored(api, batch, 3)
    page = axe_page
    log_in_page(page, live_server, county.email)
    page.wait_for_url("**/reviews/")
    assert_accessible(page)
    page.goto(f"{live_server}/applications/{application_id}")
    assert page.locator("#decision").count() == 1
    assert_accessible(page)


def test_official_pages(app, api, live_server, dashboard_ratings, imported_firm, axe_page):
    official = make_staff("official", "320400")
    for email in ("claim-a@example.com", "claim-b@example.com"):      # two claims of an imported firm
        assert api.post("/enterprises", claim_body(email)).status_code == 202
    page = axe_page
    log_in_page(page, live_server, official.email)
    for path in ["/dashboard", "/ratings/", "/reviews/overview", "/reviews/", "/publicity/manage",
                 "/reviews/blacklist", "/ratings/import", "/enterprise-claims/"]:
        page.goto(f"{live_server}{path}")
        assert_accessible(page)
    page.goto(f"{live_server}/dashboard?on=2024-02-30")      # a date that does not exist
    assert page.locator("#on").get_attribute("aria-describedby") == "on-errors"
    assert_accessible(page)


def test_pending_claimant_pages(app, api, live_server, imported_firm, axe_page):
    assert api.post("/enterprises", claim_body("claimant@example.com")).status_code == 202
    page = axe_page
    log_in_page(page, live_server, "claimant@example.com")
    page.wait_for_url("**/applications/")
    assert page.get_by_test_id("claim-pending").count() == 1
    assert_accessible(page)
    page.goto(f"{live_server}/ratings/")
    assert_accessible(page)


def test_account_pages(app, api, live_server, axe_page):
    admin = make_staff("admin", None)
    api.token(admin.email)                        # a token in the list
    page = axe_page
    log_in_page(page, live_server, admin.email)
    page.wait_for_url("**/reviews/overview")
    page.get_by_role("link", name="账户安全").click()
    assert page.locator("table").count() == 1 and page.locator("#email").count() == 1
    assert_accessible(page)
    page.locator("#email").fill("nobody@example.com")
    page.locator("#deactivate").click()           # refused, the error beside the field
    assert page.locator("#email").get_attribute("aria-invalid") == "true"
    assert_accessible(page)
    page.goto(f"{live_server}/account/password")
    assert_accessible(page)
    page.fill("#current_password", "not-my-password1")
    page.fill("#new_password", "short")
    page.locator("input[type=submit]").click()
    assert page.locator(".has-error").count() >= 1
    assert_accessible(page)


# Keyboard-only filing ------------------------------------------------------------------------

def tab_to(page, selector: str, limit: int = 400) -> None:
    """Press Tab until the element matching `selector` has the focus, as a keyboard user would.
    Only forward: reaching the end of the page first means the tab order is not the filling order."""
    target = page.locator(selector).first
    target.wait_for(state="attached")
    for presses in range(limit):
        if target.evaluate("e => e === document.activeElement"):
            return
        if presses and page.evaluate("document.activeElement === document.body"):
            break
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def focused(page) -> str:
    return page.evaluate("(e => e.id || e.name || e.tagName)(document.activeElement)")


def assert_focus_visible(page) -> None:
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), f"no visible focus on {focused(page)}"


def type_into(page, selector: str, text: str) -> None:
    tab_to(page, selector)
    assert_focus_visible(page)
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(text)


def choose(page, selector: str, option_text_or_value: str) -> None:
    """A <select>: focus it and arrow down to the option (by value or the start of its text)."""
    tab_to(page, selector)
    value = page.locator(selector).evaluate(
        "(s, wanted) => [...s.options].find(o => o.value === wanted || o.text.startsWith(wanted)).text",
        option_text_or_value)
    # Arrows rather than type-ahead, which cannot reach options in CJK text.
    page.keyboard.press("Home")
    for _ in range(60):
        if page.locator(selector).evaluate("s => s.options[s.selectedIndex].text") == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"{selector} has no option {option_text_or_value}")


def answer_by_keyboard(page, edition, level) -> None:
    """Answer every indicator in the order of the page (grouped by dimension), top to bottom."""
    on_page = page.locator(".indicator").evaluate_all("boxes => boxes.map(b => b.id)")
    for indicator in sorted(edition.indicators_for(level), key=lambda i: on_page.index(f"ind-{i.code}")):
        box = f"#ind-{indicator.code}"
        if indicator.type == "boolean":
            tab_to(page, f"{box} input[value=true]")      # Tab enters a radio group at its checked
            page.keyboard.press("Space")                   # or first button; Space checks it
        elif indicator.type == "choice":
            count = page.locator(f"{box} input[type=radio]").count()
            tab_to(page, f"{box} input[type=radio]")
            page.keyboard.press("Space")
            for _ in range(count - 1):                     # arrows move and check within the group
                page.keyboard.press("ArrowDown")
            assert page.locator(f"{box} input[type=radio]").last.is_checked()
        elif indicator.type == "multi_choice":
            for index in range(page.locator(f"{box} input[type=checkbox]").count()):
                tab_to(page, f"{box} input[type=checkbox] >> nth={index}")
                page.keyboard.press("Space")
        elif indicator.type in ("integer", "decimal"):
            value = int(indicator.max) if indicator.max is not None else 100
            if indicator.code == "declared_investment_yuan":
                value = 150000
            type_into(page, f"{box} input", str(value))
        elif indicator.type == "date":
            type_date(page, f"{box} input", clock.today() - timedelta(days=3 * 365))
        else:
            type_into(page, f"{box} textarea", "上云后生产效率提升约两成，运营成本下降一成，设备故障停机明显减少，"
                                               "质量追溯全程在线，数据口径统一，管理更加精细。")


SEGMENT_NAMES = {"year": ("Year", "年"), "month": ("Month", "月"), "day": ("Day", "日")}


def date_segment_order(page) -> list[str]:
    """The order of a date input's year, month and day fields, as assistive technology sees it:
    Chromium follows its own interface language here, not the page's or the context's locale."""
    session = page.context.new_cdp_session(page)
    try:
        nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        session.detach()
    order = []
    for node in nodes:
        if node.get("role", {}).get("value") == "spinbutton":
            words = str(node.get("name", {}).get("value", "")).split()
            order += [part for part, names in SEGMENT_NAMES.items() if words and words[0] in names]
    assert len(order) >= 3, f"no date fields in the accessibility tree: {order}"
    return order[:3]


def type_date(page, selector: str, day) -> None:
    """Type a date field by field; a year may have up to six digits, so the right arrow leaves it."""
    tab_to(page, selector)
    assert_focus_visible(page)
    for part in date_segment_order(page):
        if part == "year":
            page.keyboard.type(f"{day.year:04d}")
            page.keyboard.press("ArrowRight")
        else:
            page.keyboard.type(f"{getattr(day, part):02d}")
    assert page.locator(selector).input_value() == day.isoformat()


def test_keyboard_only_filing(app, api, live_server, page, tmp_path):
    batch = make_batch("js-2024")
    edition = get_edition(batch.edition_code)
    _firm, _token = api.register_firm("320402", email="keyboard@example.com")

    page.goto(f"{live_server}/login")
    type_into(page, "#email", "keyboard@example.com")
    type_into(page, "#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/applications/")

    # The skip link comes first and takes the focus past the navigation, into the page's content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")

    choose(page, "form.card select", "3")
    tab_to(page, "form.card button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/edit")

    # No positive tabindex anywhere: the tab order is the order of the page.
    assert page.locator("[tabindex]:not([tabindex='0']):not([tabindex^='-'])").count() == 0
    answer_by_keyboard(page, edition, 3)
    today = clock.today()
    type_into(page, "#cloud_services-0-provider", "天翼云")
    type_into(page, "#cloud_services-0-service_name", "云主机与对象存储")
    choose(page, "#cloud_services-0-category", "iaas")
    choose(page, "#cloud_services-0-deployment", "public")
    type_date(page, "#cloud_services-0-started_on", today - timedelta(days=400))
    type_date(page, "#cloud_services-0-payments-0-paid_on", today - timedelta(days=30))
    type_into(page, "#cloud_services-0-payments-0-amount", "150000")
    tab_to(page, "#save")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "草稿已保存" in page.locator(".flash-success").inner_text()

    # Evidence: Space on a file input opens the system's file dialog, where the file is chosen.
    evidence = tmp_path / "合同.pdf"
    evidence.write_bytes(PDF_BYTES)
    # A listener makes Playwright intercept the dialog from the start (else the first is missed).
    page.on("filechooser", lambda _chooser: None)
    for code in page.locator(".upload input[type=file]").evaluate_all("inputs => inputs.map(i => i.id)"):
        tab_to(page, f"#{code}")
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Space")
        chooser.value.set_files(str(evidence))
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") == "BUTTON"
        with page.expect_navigation():
            page.keyboard.press("Enter")
    assert page.get_by_test_id("completeness").inner_text() == "100%"

    tab_to(page, "#pledge")
    page.keyboard.press("Space")
    tab_to(page, "#submission input[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "已提交" in page.get_by_test_id("status").inner_text()
    assert_scored(page)


def test_edition_and_quota_pages(app, api, live_server, axe_page):
    batch = make_batch("js-2024")
    page = axe_page
    log_in_page(page, live_server, make_staff("admin", None).email)
    for path in ["/guide-editions", "/guide-editions/js-2024", "/guide-editions/diff?a=js-2022&b=js-2024",
                 f"/quotas?batch_id={batch.id}"]:
        page.goto(f"{live_server}{path}")
        assert_accessible(page)
    page.goto(f"{live_server}/guide-editions")
    page.fill("#source", "code: js-2099\nlevels: {}\n")
    page.get_by_role("button", name="检查并上传").click()
    assert page.locator("#edition-problems").is_visible()
    assert_accessible(page)


def test_audit_conflict_and_provider_pages(app, api, live_server, axe_page):
    official = make_staff("official", "320400")
    reviewer = make_staff("reviewer", "320402")
    firm, _token = api.register_firm("320402")
    assert api.post("/reviewer-conflicts", {"enterprise_id": firm["id"], "note": "亲属任职"},
                    token=api.token(reviewer.email)).status_code == 201
    assert api.post("/blacklist", {"enterprise_id": firm["id"], "reason": "伪造材料"},
                    token=api.token(official.email)).status_code == 201
    page = axe_page
    log_in_page(page, live_server, reviewer.email)
    page.wait_for_url("**/reviews/")
    page.goto(f"{live_server}/reviews/conflicts/")
    assert_accessible(page)
    page.context.clear_cookies()
    log_in_page(page, live_server, official.email)
    page.wait_for_url(lambda url: "/login" not in url)
    for path in ["/audit/", "/audit/?action=blacklist.add", "/providers/", "/reviews/conflicts/"]:
        page.goto(f"{live_server}{path}")
        assert_accessible(page)
    page.goto(f"{live_server}/audit/?action=blacklist.add")
    page.locator("#audit-entries tbody a").first.click()
    page.wait_for_url("**/audit/*")
    assert_accessible(page)
