"""Staff accounts (invite by emailed link, scope, deactivation re-routes), a firm's users (one
active administrator always) and one's profile, through the JSON API on PostgreSQL."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from rating.extensions import db
from rating.models import AuditEntry, Enterprise, ReviewAssignment, User
from rating.platform import mailer
from rating.services.review import routing, scoring_runs
from tests.support import mail
from tests.support.factories import PASSWORD, make_staff
from tests.support.flows import file_everything
from tests.support.people import csrf_token, logged_in

pytestmark = pytest.mark.integration

NEW_PASSWORD = "Welcome2026pw"


@pytest.fixture()
def mailbox(smtp_server):
    smtp_server.clear()
    return smtp_server


def emailed_link(mailbox, email: str) -> tuple[str, str]:
    """(subject, path of the set-password link) of the newest email to `email`."""
    mailer.flush()
    received = [m for m in mailbox.messages if m["To"] == email]
    assert received, "no email"
    path = re.search(r"https?://\S+(/password/reset/\S+)", mail.body(received[-1])).group(1)
    return mail.subject(received[-1]), path


def set_password(client, path, password=NEW_PASSWORD):
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf_token(page.text), "password": password, "confirm": password})


def test_invited_reviewer_sets_a_password_once_and_logs_in(app, api, client, mailbox):
    official = api.token(make_staff("official", "320400").email)
    answer = api.post("/staff", {"email": "New.Reviewer@bureau.example", "name": "新审核员", "role": "reviewer",
                                 "jurisdiction_code": "320402"}, token=official)
    assert answer.status_code == 201, answer.get_json()
    created = answer.get_json()
    assert created["email"] == "new.reviewer@bureau.example" and created["active"] is True
    assert created["last_login_at"] is None
    subject, path = emailed_link(mailbox, "new.reviewer@bureau.example")
    assert "邀请" in subject
    assert set_password(client, path).status_code == 302
    assert client.get(path).status_code == 410                           # the link works once
    assert api.post("/tokens", {"email": "new.reviewer@bureau.example", "password": NEW_PASSWORD}).status_code == 201
    listed = api.get("/staff?q=新审核&role=reviewer", token=official).get_json()
    assert listed["total"] == 1 and listed["page"] == 1
    assert listed["items"][0]["last_login_at"] is not None
    actions = set(db.session.execute(select(AuditEntry.action).where(AuditEntry.object_id == str(created["id"])))
                  .scalars())
    assert "staff.invited" in actions


def test_officials_invite_inside_their_scope_and_never_admins(api):
    official = api.token(make_staff("official", "320400").email)
    body = {"email": "x@bureau.example", "name": "某人", "role": "reviewer"}
    assert api.post("/staff", {**body, "jurisdiction_code": "320100"}, token=official).status_code == 403
    assert api.post("/staff", {**body, "role": "admin"}, token=official).status_code == 403
    assert api.post("/staff", {**body, "jurisdiction_code": "320000"}, token=official).status_code == 403
    assert api.post("/staff", {**body, "role": "boss", "jurisdiction_code": "320402"},
                    token=official).status_code == 422
    reviewer = api.token(make_staff("reviewer", "320400").email)
    assert api.post("/staff", {**body, "jurisdiction_code": "320402"}, token=reviewer).status_code == 403
    assert api.get("/staff", token=reviewer).status_code == 403
    admin = api.token(make_staff("admin", None).email)
    assert api.post("/staff", {**body, "role": "admin"}, token=admin).status_code == 201
    assert api.post("/staff", {**body, "role": "admin"}, token=admin).status_code == 409


def test_listing_is_scoped_and_filtered(api):
    official = api.token(make_staff("official", "320400").email)
    inside = make_staff("reviewer", "320402")
    make_staff("reviewer", "320100")                                       # another city
    gone = make_staff("expert", "320400")
    admin = api.token(make_staff("admin", None).email)
    assert api.patch(f"/staff/{gone.id}", {"active": False}, token=admin).status_code == 200
    everyone = api.get("/staff", token=official).get_json()
    assert {item["email"] for item in everyone["items"]} >= {inside.email, gone.email}
    assert all(item["jurisdiction_code"].startswith("3204") for item in everyone["items"])
    assert [i["id"] for i in api.get("/staff?active=false", token=official).get_json()["items"]] == [gone.id]
    assert api.get("/staff?active=maybe", token=official).status_code == 422
    assert api.get("/staff?q=a%00b", token=official).status_code == 422
    assert api.get("/staff?role=a%00b", token=official).status_code == 422
    assert api.get("/staff", token=admin).get_json()["total"] == 5


def submitted_and_scored(api, batch) -> int:
    firm, token = api.register_firm("320402")
    body = file_everything(api, token, batch, 3)
    assert api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token).status_code == 202
    assert scoring_runs.score_application(body["id"]) == "scored"
    return body["id"]


def test_deactivated_reviewer_loses_access_and_work_at_once(api, batch):
    first = make_staff("reviewer", "320402")
    application_id = submitted_and_scored(api, batch)
    db.session.expire_all()
    assert routing.open_assignment(application_id).reviewer_id == first.id
    second = make_staff("reviewer", "320402")
    token = api.token(first.email)
    official = api.token(make_staff("official", "320402").email)
    answer = api.patch(f"/staff/{first.id}", {"active": False}, token=official)
    assert answer.status_code == 200 and answer.get_json()["active"] is False
    assert api.get("/reviews/queue", token=token).status_code == 401        # its tokens answer 401
    assert api.post("/tokens", {"email": first.email, "password": PASSWORD}).status_code == 401
    db.session.expire_all()
    assert routing.open_assignment(application_id).reviewer_id == second.id  # routed again at once
    closed = db.session.execute(select(ReviewAssignment).where(ReviewAssignment.reviewer_id == first.id)).scalar_one()
    assert closed.closed_reason == "reassigned"
    # No new assignments while inactive.
    other = submitted_and_scored(api, batch)
    db.session.expire_all()
    assert routing.open_assignment(other).reviewer_id == second.id


def test_staff_edits_stay_in_scope(api):
    official = make_staff("official", "320400")
    token = api.token(official.email)
    reviewer = make_staff("reviewer", "320402")
    elsewhere = make_staff("reviewer", "320100")
    admin = make_staff("admin", None)
    assert api.patch(f"/staff/{elsewhere.id}", {"name": "x"}, token=token).status_code == 404
    assert api.patch(f"/staff/{admin.id}", {"name": "x"}, token=token).status_code == 404
    assert api.patch(f"/staff/{reviewer.id}", {"role": "admin"}, token=token).status_code == 403
    assert api.patch(f"/staff/{reviewer.id}", {"jurisdiction_code": "320100"}, token=token).status_code == 403
    assert api.patch(f"/staff/{reviewer.id}", {"active": "no"}, token=token).status_code == 422
    assert api.patch(f"/staff/{official.id}", {"active": False}, token=token).status_code == 422
    moved = api.patch(f"/staff/{reviewer.id}", {"name": "改名", "role": "expert", "jurisdiction_code": "320400"},
                      token=token)
    assert moved.status_code == 200
    assert {k: moved.get_json()[k] for k in ("name", "role", "jurisdiction_code")} == {
        "name": "改名", "role": "expert", "jurisdiction_code": "320400"}


def test_firm_administrator_invites_and_always_one_remains(api, client, mailbox):
    firm, owner = api.register_firm("320402")
    users = api.get("/enterprise/users", token=owner).get_json()
    assert len(users) == 1 and users[0]["is_admin"] is True                # the first user administers
    answer = api.post("/enterprise/users", {"email": "colleague@example.com", "name": "同事"}, token=owner)
    assert answer.status_code == 201
    colleague = answer.get_json()
    assert colleague["is_admin"] is False
    _subject, path = emailed_link(mailbox, "colleague@example.com")
    assert set_password(client, path).status_code == 302
    other = api.token("colleague@example.com", NEW_PASSWORD)
    assert api.post("/enterprise/users", {"email": "y@example.com", "name": "某"}, token=other).status_code == 403
    assert api.patch(f"/enterprise/users/{colleague['id']}", {"is_admin": True}, token=other).status_code == 403
    assert api.patch(f"/enterprise/users/{users[0]['id']}", {"is_admin": False}, token=owner).status_code == 409
    assert api.patch(f"/enterprise/users/{users[0]['id']}", {"active": False}, token=owner).status_code == 409
    assert api.patch(f"/enterprise/users/{colleague['id']}", {"is_admin": True}, token=owner).status_code == 200
    assert api.patch(f"/enterprise/users/{users[0]['id']}", {"is_admin": False}, token=owner).status_code == 200
    assert api.patch(f"/enterprise/users/{colleague['id']}", {"active": False}, token=other).status_code == 409
    _firm2, stranger = api.register_firm("320402")
    assert api.patch(f"/enterprise/users/{colleague['id']}", {"active": False},
                     token=stranger).status_code == 404
    staff = api.token(make_staff("official", "320402").email)
    assert api.get("/enterprise/users", token=staff).status_code == 403


def test_duplicate_registration_points_to_the_firm_administrator(api):
    firm, _token = api.register_firm("320402")
    code = db.session.get(Enterprise, firm["id"]).uscc
    answer = api.post("/enterprises", {"name": "再注册", "uscc": code, "district_code": "320402", "industry": "C",
                                       "scale": "small", "contact_name": "李", "contact_phone": "0519-12345678",
                                       "email": "second@example.com", "password": PASSWORD})
    assert answer.status_code == 409
    assert "管理员" in answer.get_json()["error"]["fields"]["uscc"][0]


def test_profile_and_password(api, mailbox):
    firm, token = api.register_firm("320402")
    answer = api.patch("/me", {"name": "新名字", "phone": "0519-87654321", "locale": "en"}, token=token)
    assert answer.status_code == 200
    assert {k: answer.get_json()[k] for k in ("name", "phone", "locale")} == {
        "name": "新名字", "phone": "0519-87654321", "locale": "en"}
    assert api.patch("/me", {"locale": "fr"}, token=token).status_code == 422
    assert api.patch("/me", {"name": ""}, token=token).status_code == 422
    wrong = api.post("/me/password", {"current_password": "Wrong1234", "new_password": NEW_PASSWORD}, token=token)
    assert wrong.status_code == 422
    assert api.post("/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                    token=token).status_code == 204
    # Emails use the account's language: an invitation from this (English) administrator.
    owner = db.session.execute(select(User).where(User.enterprise_id == firm["id"])).scalar_one()
    token = api.token(owner.email, NEW_PASSWORD)
    assert api.post("/enterprise/users", {"email": "en@example.com", "name": "Ann"}, token=token).status_code == 201
    subject, _path = emailed_link(mailbox, "en@example.com")
    assert subject   # translated by the lead; the message is written in the account's locale
    row = db.session.execute(select(User).where(User.email == "en@example.com")).scalar_one()
    assert row.locale == "en"


def test_deactivation_on_the_security_page_routes_the_work_again(app, api, batch):
    first = make_staff("reviewer", "320402")
    application_id = submitted_and_scored(api, batch)
    second = make_staff("reviewer", "320402")
    client = logged_in(app, make_staff("admin", None).email)
    page = client.get("/account/security")
    answer = client.post("/account/manage", data={"csrf_token": csrf_token(page.text), "email": first.email,
                                                  "deactivate": "y"})
    assert answer.status_code == 302
    db.session.expire_all()
    assert routing.open_assignment(application_id).reviewer_id == second.id
