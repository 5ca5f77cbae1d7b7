"""Declared conflicts of interest read back and withdrawn: GET and DELETE /reviewer-conflicts and the page."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from rating.extensions import db
from rating.models import AuditEntry, ReviewerConflict
from tests.support.factories import make_staff
from tests.support.people import csrf_token, logged_in

pytestmark = pytest.mark.integration


@pytest.fixture()
def staff(api, app):
    people = {name: make_staff(role, code) for name, role, code in [
        ("reviewer", "reviewer", "320402"), ("colleague", "reviewer", "320402"),
        ("far_reviewer", "reviewer", "320102"), ("city", "official", "320400"), ("nanjing", "official", "320100"),
        ("admin", "admin", None)]}
    return {name: (user, api.token(user.email)) for name, user in people.items()}


def test_reviewers_list_and_withdraw_their_own(api, staff):
    firm, _token = api.register_firm("320402")
    reviewer, token = staff["reviewer"]
    declared = api.post("/reviewer-conflicts", {"enterprise_id": firm["id"], "note": "曾任顾问"}, token=token)
    provider = api.post("/reviewer-conflicts", {"provider_name": "阿里云"}, token=token).get_json()["id"]
    api.post("/reviewer-conflicts", {"group_name": "某集团"}, token=staff["far_reviewer"][1])
    mine = api.get("/reviewer-conflicts", token=token).get_json()
    assert [c["id"] for c in mine] == [provider, declared.get_json()["id"]]
    assert mine[1]["enterprise_name"] == firm["name"] and mine[1]["uscc"] == firm["uscc"]
    assert mine[1]["note"] == "曾任顾问" and mine[1]["reviewer_id"] == reviewer.id
    assert api.get("/reviewer-conflicts", token=staff["colleague"][1]).get_json() == []
    # Nobody else withdraws it: not a colleague, not an official.
    assert api.delete(f"/reviewer-conflicts/{provider}", token=staff["colleague"][1]).status_code == 404
    assert api.delete(f"/reviewer-conflicts/{provider}", token=staff["city"][1]).status_code == 403
    assert api.delete(f"/reviewer-conflicts/{provider}", token=token).status_code == 204
    assert api.delete(f"/reviewer-conflicts/{provider}", token=token).status_code == 404
    assert [c["id"] for c in api.get("/reviewer-conflicts", token=token).get_json()] == [declared.get_json()["id"]]
    withdrawn = db.session.execute(select(AuditEntry).where(AuditEntry.action == "conflict.withdraw")).scalar_one()
    assert withdrawn.actor_id == reviewer.id and '"provider_name":"阿里云"' in withdrawn.payload


def test_officials_see_the_declarations_in_their_scope(api, staff):
    api.post("/reviewer-conflicts", {"group_name": "常州集团"}, token=staff["reviewer"][1])
    api.post("/reviewer-conflicts", {"group_name": "南京集团"}, token=staff["far_reviewer"][1])
    names = {who: {c["group_name"] for c in api.get("/reviewer-conflicts", token=staff[who][1]).get_json()}
             for who in ("city", "nanjing", "admin")}
    assert names == {"city": {"常州集团"}, "nanjing": {"南京集团"}, "admin": {"常州集团", "南京集团"}}
    firm, firm_token = api.register_firm("320402")
    assert api.get("/reviewer-conflicts", token=firm_token).status_code == 403


def test_the_page_declares_by_credit_code_lists_and_withdraws(app, api, staff):
    firm, _token = api.register_firm("320402")
    reviewer, _t = staff["reviewer"]
    client = logged_in(app, reviewer.email)
    page = client.get("/reviews/conflicts/")
    assert page.status_code == 200 and "暂无回避声明" in page.text
    refused = client.post("/reviews/conflicts/", data={"csrf_token": csrf_token(page.text),
                                                       "uscc": "91320000000000000X"}, follow_redirects=True)
    assert "没有统一社会信用代码为" in refused.text
    both = client.post("/reviews/conflicts/", data={"csrf_token": csrf_token(page.text), "uscc": firm["uscc"],
                                                    "group_name": "某集团"}, follow_redirects=True)
    assert "只能填写一项" in both.text
    assert db.session.execute(select(ReviewerConflict)).first() is None
    done = client.post("/reviews/conflicts/", data={"csrf_token": csrf_token(page.text), "uscc": firm["uscc"],
                                                    "note": "亲属任职"}, follow_redirects=True)
    assert "已登记回避声明" in done.text and firm["name"] in done.text
    conflict = db.session.execute(select(ReviewerConflict)).scalar_one()
    assert conflict.enterprise_id == firm["id"] and conflict.reviewer_id == reviewer.id
    official = logged_in(app, staff["city"][0].email)
    seen = official.get("/reviews/conflicts/")
    assert firm["name"] in seen.text and "declare-conflict" not in seen.text and "withdraw-" not in seen.text
    assert logged_in(app, staff["nanjing"][0].email).get("/reviews/conflicts/").text.count(firm["name"]) == 0
    gone = client.post(f"/reviews/conflicts/{conflict.id}/withdraw", data={"csrf_token": csrf_token(done.text)},
                       follow_redirects=True)
    assert "已撤回回避声明" in gone.text and "暂无回避声明" in gone.text
