"""The account pages: staff list, search, invite and edit (officials, administrators); the firm's
users (its administrator); my account."""
from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import select

from rating.extensions import db
from rating.models import User
from tests.support.factories import make_staff
from tests.support.people import csrf_token, logged_in

pytestmark = pytest.mark.integration


def assert_valid_html(html: str) -> None:
    """No element id twice (the full validator runs over crawled pages in tests/browser)."""
    twice = [i for i, n in Counter(re.findall(r'\sid="([^"]+)"', html)).items() if n > 1]
    assert not twice, twice


def post(client, path, data, page=None):
    form = client.get(page or path)
    return client.post(path, data={"csrf_token": csrf_token(form.text), **data})


def test_official_invites_searches_and_deactivates_staff(app):
    official = make_staff("official", "320400")
    other = make_staff("reviewer", "320100")                 # another city: not listed
    client = logged_in(app, official.email)
    page = client.get("/staff")
    assert page.status_code == 200 and "人员账户" in page.text and other.email not in page.text
    assert_valid_html(page.text)
    assert 'value="320402"' in page.text and 'value="320100"' not in page.text   # divisions in scope only
    answer = post(client, "/staff/invite", {"email": "page-reviewer@bureau.example", "name": "页面审核员",
                                            "role": "reviewer", "jurisdiction_code": "320402"}, "/staff")
    assert answer.status_code == 302
    refused = post(client, "/staff/invite", {"email": "boss@bureau.example", "name": "管理员",
                                             "role": "admin", "jurisdiction_code": ""}, "/staff")
    assert refused.status_code == 403 and "不高于自己角色" in refused.text
    assert client.get("/staff?q=a%00b&role=x&page=%00").status_code == 200     # filters it cannot use: all
    found = client.get("/staff?q=页面&role=reviewer&active=true")
    assert "page-reviewer@bureau.example" in found.text and "从未登录" in found.text
    user = db.session.execute(select(User).where(User.email == "page-reviewer@bureau.example")).scalar_one()
    edit = client.get(f"/staff/{user.id}")
    assert edit.status_code == 200
    assert_valid_html(edit.text)
    saved = post(client, f"/staff/{user.id}", {"name": "页面审核员", "role": "reviewer",
                                               "jurisdiction_code": "320402"})     # "active" unticked
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).active is False
    assert client.get(f"/staff/{other.id}").status_code == 404


def test_staff_pages_are_for_officials_only(app, api):
    reviewer = logged_in(app, make_staff("reviewer", "320402").email)
    assert reviewer.get("/staff").status_code == 403
    _firm, _token = api.register_firm("320402")


def test_firm_users_page_and_my_account(app, api):
    firm, _token = api.register_firm("320402")
    owner = db.session.execute(select(User).where(User.enterprise_id == firm["id"])).scalar_one()
    client = logged_in(app, owner.email)
    page = client.get("/account/firm-users")
    assert page.status_code == 200 and owner.email in page.text and "邀请同事" in page.text
    assert_valid_html(page.text)
    assert post(client, "/account/firm-users/invite", {"email": "mate@example.com", "name": "同事"},
                "/account/firm-users").status_code == 302
    mate = db.session.execute(select(User).where(User.email == "mate@example.com")).scalar_one()
    assert post(client, f"/account/firm-users/{mate.id}", {"make_admin": "设为管理员"},
                "/account/firm-users").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, mate.id).is_firm_admin is True
    profile = client.get("/account/profile")
    assert profile.status_code == 200
    assert_valid_html(profile.text)
    assert post(client, "/account/profile", {"name": "王经理", "phone": "0519-11112222",
                                             "locale": "en"}).status_code == 302
    db.session.expire_all()
    changed = db.session.get(User, owner.id)
    assert (changed.name, changed.phone, changed.locale) == ("王经理", "0519-11112222", "en")
    assert '<html lang="en">' in client.get("/account/profile").text          # the pages follow the choice
