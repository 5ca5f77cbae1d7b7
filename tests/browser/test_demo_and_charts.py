"""What `make run`'s demo lets a person try, in a real browser (issue 27; each failed before):
- the demo finishes a 3★ path: its city official (常州市) publishes the notice, and the
  province official's publicity page, with nothing of its own to publish, says who does;
- without a mail server the demo's mail is kept by the local catcher, and an administrator
  reads it (a password reset link, followed to a new password) in development mode only;
- the dashboard's chart labels are at least 10 px on a 390 px phone (they were ~5 px)."""
from __future__ import annotations

import time

import pytest

from rating import demo
from rating.extensions import db
from rating.models import Application, ApplicationStatus, User
from rating.platform import mail_catcher
from tests.support.factories import make_staff
from tests.support.flows import decide
from tests.support.people import log_in_page
from tests.support.servers import free_port, web, worker

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def demo_login(page, base: str, email: str, password: str = demo.DEMO_PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.url


def seeded() -> int:
    """The demo seed, as `make run` runs it; the id of the application it files."""
    demo.seed()
    db.session.commit()
    firm = db.session.query(User).filter_by(email=demo.FILER).one()
    return db.session.query(Application.id).filter_by(enterprise_id=firm.enterprise_id).scalar()


def _until(condition, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        found = condition()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_the_demo_finishes_a_3_star_path(app, api, live_server, browser):
    application_id = seeded()
    county = api.token("county-reviewer@demo.rating.test", demo.DEMO_PASSWORD)
    city = api.token("city-reviewer@demo.rating.test", demo.DEMO_PASSWORD)
    # The live server's worker scores the seeded application and routes it to 天宁区.
    _until(lambda: decide(api, county, application_id, "forward", "材料齐全，同意报送").status_code == 201)
    assert decide(api, city, application_id, "approve", "同意").status_code == 201

    page = browser.new_context(locale="zh-CN").new_page()
    page.set_default_timeout(15_000)
    demo_login(page, live_server, "province@demo.rating.test")
    page.goto(f"{live_server}/publicity/manage")
    assert "目前没有待公示的审核通过申报" in page.content()
    why = page.locator("#who-publishes").inner_text()
    assert "3★、4★ 的公示由设区市工信局发布" in why and "5★ 的公示由省工信厅发布" in why

    page = browser.new_context(locale="zh-CN").new_page()
    page.set_default_timeout(15_000)
    demo_login(page, live_server, "city-official@demo.rating.test")
    page.goto(f"{live_server}/publicity/manage")
    page.fill("#title", "2026年度第一批星级上云企业拟认定名单公示（演示）")
    page.locator(f"input[name=application_ids][value='{application_id}']").check()
    page.get_by_role("button", name="发布公示").click()
    page.wait_for_url("**/publicity/*/manage")
    assert "公示已发布" in page.content()
    db.session.rollback()
    assert db.session.get(Application, application_id).status == ApplicationStatus.publicity


@pytest.fixture()
def catcher(tmp_path):
    port = free_port()
    controller = mail_catcher.start(tmp_path / "mail", port=port)
    yield port, tmp_path / "mail"
    controller.stop()


def test_admins_read_the_caught_mail_in_development(app, app_env, browser, catcher, tmp_path):
    seeded()
    catcher_port, folder = catcher
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # As `make run` starts it: development mode, no MAIL_SERVER (the catcher's port given).
    env = {**app_env, "RATING_ENV": "development", "MAIL_PORT": str(catcher_port), "MAIL_CATCHER_DIR": str(folder),
           "PUBLIC_BASE_URL": base}
    env.pop("MAIL_SERVER")
    server = web(env, tmp_path, port, workers=1)
    sender = worker(env, tmp_path)
    try:
        page = browser.new_context(locale="zh-CN").new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{base}/password/forgot")
        page.fill("#email", "firm@demo.rating.test")
        page.locator("main form input[type=submit], main form button[type=submit]").last.click()
        page.wait_for_url("**/login")
        _until(lambda: any(m.subject.endswith("重置登录密码") for m in mail_catcher.caught(folder)), timeout=60)

        admin = browser.new_context(locale="zh-CN").new_page()
        admin.set_default_timeout(15_000)
        demo_login(admin, base, "admin@demo.rating.test")
        admin.goto(f"{base}/dev/mail")
        assert "firm@demo.rating.test" in admin.content()
        admin.get_by_role("link", name="【星级上云】重置登录密码").click()
        link = admin.locator("pre a[href*='/password/reset/']").first
        href = link.get_attribute("href")
        assert href.startswith(f"{base}/password/reset/")        # the port served, as make run sets it
        link.click()
        admin.fill("#password", "NewDemo2026pass")
        admin.fill("#confirm", "NewDemo2026pass")
        admin.locator("main form input[type=submit], main form button[type=submit]").last.click()
        admin.wait_for_url("**/login")
        assert "密码已重置" in admin.content()

        firm = browser.new_context(locale="zh-CN").new_page()
        firm.set_default_timeout(15_000)
        demo_login(firm, base, "firm@demo.rating.test", "NewDemo2026pass")
        # Only administrators read it.
        assert firm.goto(f"{base}/dev/mail").status == 403
    finally:
        sender.stop()
        server.stop()


def test_caught_mail_is_not_shown_outside_development(app, live_server, browser):
    admin = make_staff("admin", None)
    page = browser.new_context(locale="zh-CN").new_page()
    log_in_page(page, live_server, admin.email)
    page.wait_for_load_state()
    assert page.goto(f"{live_server}/dev/mail").status == 404


def test_chart_labels_are_readable_on_a_phone(app, live_server, browser, dashboard_ratings):
    official = make_staff("official", "320400")
    page = browser.new_context(locale="zh-CN", viewport=PHONE, device_scale_factor=1).new_page()
    page.set_default_timeout(15_000)
    log_in_page(page, live_server, official.email)
    page.wait_for_load_state()
    page.goto(f"{live_server}/dashboard")
    sizes = page.evaluate("""() => [...document.querySelectorAll('svg.chart text')].map(text => {
        const svg = text.ownerSVGElement, scale = svg.getScreenCTM().a;
        return [text.textContent.trim(), parseFloat(getComputedStyle(text).fontSize) * scale];
    })""")
    assert len(sizes) >= 8, sizes                           # bars' labels, values, ticks, years, legend
    small = [(label, round(size, 1)) for label, size in sizes if size < 10]
    assert not small, f"chart labels under 10 px on a 390 px phone: {small}"
    # The page itself still fits the phone: the chart scrolls inside its frame.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
