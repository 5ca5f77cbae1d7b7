"""An official invites a reviewer on the staff page; the reviewer sets a password from the
emailed link (a real SMTP server) and logs in; the official deactivates them."""
from __future__ import annotations

import re

import pytest

from tests.support import mail
from tests.support.factories import make_staff
from tests.support.people import log_in_page

pytestmark = pytest.mark.browser

EMAIL = "invited.reviewer@bureau.example"
NEW_PASSWORD = "Welcome2026pw"


def test_invite_set_password_log_in_deactivate(app, live_server, browser, smtp_server):
    smtp_server.clear()
    official = make_staff("official", "320400")
    admin = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    log_in_page(admin, live_server, official.email)
    admin.get_by_role("link", name="人员账户").click()
    admin.wait_for_url("**/staff")
    admin.fill("#email", EMAIL)
    admin.fill("#name", "受邀审核员")
    admin.select_option("#role", "reviewer")
    admin.select_option("#jurisdiction_code", "320402")
    admin.get_by_role("button", name="发送邀请").click()
    assert "已向 invited.reviewer@bureau.example 发送邀请邮件" in admin.locator(".flash-success").inner_text()

    # The worker beside the live server sends it.
    message = smtp_server.wait_for(lambda m: m["To"] == EMAIL, timeout=60)[-1]
    assert "邀请" in mail.subject(message)
    path = re.search(r"https?://\S+(/password/reset/\S+)", mail.body(message)).group(1)

    reviewer = browser.new_context(locale="zh-CN").new_page()
    reviewer.goto(f"{live_server}{path}")
    reviewer.fill("#password", NEW_PASSWORD)
    reviewer.fill("#confirm", NEW_PASSWORD)
    reviewer.click("form.narrow [type=submit]")
    reviewer.wait_for_url("**/login")
    reviewer.fill("#email", EMAIL)
    reviewer.fill("#password", NEW_PASSWORD)
    reviewer.click("input[type=submit]")
    reviewer.wait_for_url("**/reviews/")
    reviewer.goto(f"{live_server}{path}")
    assert "已使用过" in reviewer.content()                       # the link worked once

    admin.fill("#filter-q", "受邀")
    admin.get_by_role("button", name="查询").click()
    assert "从未登录" not in admin.locator("#staff-list").inner_text()     # the login is recorded
    admin.get_by_role("link", name="修改 受邀审核员 的账户").click()
    admin.uncheck("#active")
    admin.get_by_role("button", name="保存").click()
    admin.wait_for_url("**/staff")
    admin.goto(f"{live_server}/staff?active=false")
    assert EMAIL in admin.locator("#staff-list").inner_text()

    reviewer.goto(f"{live_server}/reviews/")
    assert "/login" in reviewer.url                               # its session ended
