"""People of every role and logging them in: the one way a test signs a user in, through the
login form of a test client (or of a real browser page)."""
from __future__ import annotations

import re

from sqlalchemy import select

from rating.extensions import db
from rating.models import Application, User
from tests.support.factories import PASSWORD, make_staff

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def log_in(client, email: str, password: str = PASSWORD, follow_redirects: bool = False):
    """Post the login form as `client`; the answer (the page it leads to with `follow_redirects`)."""
    page = client.get("/login")
    return client.post("/login", data={"csrf_token": csrf_token(page.text), "email": email, "password": password},
                       follow_redirects=follow_redirects)


def logged_in(app, email: str, password: str = PASSWORD, check: bool = True):
    """A new client of `app`, logged in as `email`; with `check`, the login must have succeeded."""
    client = app.test_client()
    answer = log_in(client, email, password)
    if check:
        assert answer.status_code == 302 and "/login" not in answer.headers["Location"], answer.text[:500]
    return client


def log_in_page(page, base: str, email: str) -> None:
    """Log in through a real browser page (Playwright)."""
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")


def staff_tokens(api, roster: dict[str, tuple[str, str | None]]) -> dict[str, str]:
    """Create the staff of `roster` (name → (role, jurisdiction)); name → bearer token."""
    return {name: api.token(make_staff(role, code).email) for name, (role, code) in roster.items()}


# Reviewers at each stage of 常州's path and officials in and out of its scope: who forwards,
# approves and publicises (tests/support/fixtures.py: the `people` fixture).
DECIDERS = {
    "county": ("reviewer", "320402"), "city": ("reviewer", "320400"), "province": ("reviewer", "320000"),
    "city_official": ("official", "320400"), "county_official": ("official", "320402"),
    "other_city_official": ("official", "320100"), "province_official": ("official", "320000"),
}


def firm_email(application_id: int) -> str:
    """The login email of the firm that filed the application."""
    enterprise_id = db.session.get(Application, application_id).enterprise_id
    return db.session.execute(select(User.email).where(User.enterprise_id == enterprise_id)).scalar_one()
