"""Sessions and tokens end when they should: a browser session cookie copied elsewhere stops
working after logout, a password change or reset, deactivation and an administrator's "sign
out everywhere"; API tokens can be listed and revoked, one by one, all at once or the one in
use; the account security page and its forms."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from rating.extensions import db
from rating.models import ApiToken, AuditEntry, User
from rating.services.accounts.password_reset import reset_token
from tests.support.factories import PASSWORD, make_staff
from tests.support.people import csrf_token, logged_in

pytestmark = pytest.mark.integration

NEW_PASSWORD = "Neu2026passwort"
PAGE = "/reviews/"          # a page for a logged-in reviewer only


def copy_of(app, client):
    """Another browser holding a copy of `client`'s session cookie (a stolen cookie)."""
    name = app.config["SESSION_COOKIE_NAME"]
    thief = app.test_client()
    thief.set_cookie(name, client.get_cookie(name).value)
    return thief


def is_out(client, path: str = PAGE) -> bool:
    """The page answers with the login page, as to someone who never logged in."""
    answer = client.get(path)
    return answer.status_code == 302 and answer.headers["Location"].startswith("/login")


def post_form(client, path: str, data: dict | None = None, page: str = "/account/security"):
    return client.post(path, data={"csrf_token": csrf_token(client.get(page).text), **(data or {})})


def actions(user_id: int) -> list[str]:
    return list(db.session.execute(select(AuditEntry.action).where(AuditEntry.object_type == "user",
                                                                   AuditEntry.object_id == str(user_id))
                                   .order_by(AuditEntry.id)).scalars())


# -- browser sessions ---------------------------------------------------------------------

def test_a_copied_cookie_dies_with_logout(app, api):
    user = make_staff("reviewer", "320402")
    token = api.token(user.email)
    mine = logged_in(app, user.email)
    thief = copy_of(app, mine)
    assert thief.get(PAGE).status_code == 200
    other_browser = logged_in(app, user.email)

    out = post_form(mine, "/logout", page=PAGE)
    assert out.status_code == 302
    assert is_out(thief) and is_out(mine) and is_out(other_browser)   # every session of the account
    assert api.get("/reviews/queue", token=token).status_code == 200    # tokens kept unless asked
    assert "account.logged_out" in actions(user.id)
    assert logged_in(app, user.email).get(PAGE).status_code == 200         # logging in again works


def test_logout_can_revoke_the_tokens_too(app, api):
    user = make_staff("reviewer", "320402")
    token = api.token(user.email)
    mine = logged_in(app, user.email)
    assert 'name="revoke_tokens"' in mine.get("/account/security").text
    post_form(mine, "/logout", {"revoke_tokens": "y"})
    assert is_out(mine)
    assert api.get("/reviews/queue", token=token).status_code == 401


def test_a_session_of_the_old_form_counts_no_more(app):
    user = make_staff("reviewer", "320402")
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)      # what a cookie carried before versions
        session["_fresh"] = True
    assert is_out(client)
    with client.session_transaction() as session:
        session["_user_id"] = f"{user.id}:{user.session_version}"
    assert client.get(PAGE).status_code == 200


def test_a_copied_cookie_dies_with_a_password_reset(app, api):
    user = make_staff("reviewer", "320402")
    thief = copy_of(app, logged_in(app, user.email))
    path = f"/password/reset/{reset_token(user)}"
    anonymous = app.test_client()
    done = anonymous.post(path, data={"csrf_token": csrf_token(anonymous.get(path).text),
                                      "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert is_out(thief)
    assert logged_in(app, user.email, NEW_PASSWORD).get(PAGE).status_code == 200


def test_changing_the_password_ends_the_other_sessions_and_tokens(app, api):
    user = make_staff("reviewer", "320402")
    token = api.token(user.email)
    mine = logged_in(app, user.email)
    thief = copy_of(app, mine)
    elsewhere = logged_in(app, user.email)
    assert "/account/password" in mine.get("/account/security").text

    def change(current, new, confirm=None):
        return post_form(mine, "/account/password", {"current_password": current, "new_password": new,
                                                     "confirm": confirm or new}, page="/account/password")

    wrong = change("not-my-password1", NEW_PASSWORD)
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.text
    weak = change(PASSWORD, "short")
    assert weak.status_code == 422 and "至少 8 位" in weak.text
    assert change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x").status_code == 422
    assert thief.get(PAGE).status_code == 200                 # nothing refused changed anything

    done = change(PASSWORD, NEW_PASSWORD)
    assert done.status_code == 302 and done.headers["Location"].endswith("/account/security")
    assert mine.get(PAGE).status_code == 200                  # the changer stays logged in
    assert is_out(thief) and is_out(elsewhere)
    assert api.get("/reviews/queue", token=token).status_code == 401
    assert api.post("/tokens", {"email": user.email, "password": PASSWORD}).status_code == 401
    assert "account.password_changed" in actions(user.id)


def test_changing_the_password_through_the_api(app, api):
    user = make_staff("reviewer", "320402")
    token, other = api.token(user.email), api.token(user.email)
    browser = logged_in(app, user.email)

    wrong = api.post("/me/password", {"current_password": "not-my-password1", "new_password": NEW_PASSWORD},
                     token=token)
    assert wrong.status_code == 422 and "current_password" in wrong.get_json()["error"]["fields"]
    weak = api.post("/me/password", {"current_password": PASSWORD, "new_password": "password"}, token=token)
    assert weak.status_code == 422 and "new_password" in weak.get_json()["error"]["fields"]
    assert api.post("/me/password", {"current_password": PASSWORD}, token=token).status_code == 422
    assert api.post("/me/password", {"current_password": 1, "new_password": []}, token=token).status_code == 422
    assert api.post("/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}).status_code == 401

    done = api.post("/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, token=token)
    assert done.status_code == 204 and not done.data
    assert api.get("/tokens", token=token).status_code == 401
    assert api.get("/tokens", token=other).status_code == 401
    assert is_out(browser)
    assert api.post("/tokens", {"email": user.email, "password": NEW_PASSWORD}).status_code == 201


# -- administrators ------------------------------------------------------------------------

def test_deactivation_ends_sessions_and_tokens_until_reactivated(app, api):
    admin, user = make_staff("admin", None), make_staff("reviewer", "320402")
    token = api.token(user.email)
    theirs = logged_in(app, user.email)
    thief = copy_of(app, theirs)
    admin_client = logged_in(app, admin.email)
    page = admin_client.get("/account/security").text
    assert 'name="deactivate"' in page

    done = post_form(admin_client, "/account/manage", {"email": user.email.upper(), "deactivate": "y"})
    assert done.status_code == 302
    assert is_out(theirs) and is_out(thief)
    assert api.get("/reviews/queue", token=token).status_code == 401
    assert api.post("/tokens", {"email": user.email, "password": PASSWORD}).status_code == 401
    again = post_form(admin_client, "/account/manage", {"email": user.email, "deactivate": "y"})
    assert again.status_code == 409 and "已是停用状态" in again.text

    assert post_form(admin_client, "/account/manage", {"email": user.email, "reactivate": "y"}).status_code == 302
    assert is_out(thief)                                   # reactivation does not bring old cookies back
    assert logged_in(app, user.email).get(PAGE).status_code == 200
    assert actions(user.id)[-2:] == ["account.deactivated", "account.reactivated"]


def test_an_administrator_signs_an_account_out_everywhere(app, api):
    admin, user = make_staff("admin", None), make_staff("reviewer", "320402")
    token, theirs = api.token(user.email), logged_in(app, user.email)
    admin_client = logged_in(app, admin.email)
    done = post_form(admin_client, "/account/manage", {"email": user.email, "sign_out": "y"})
    assert done.status_code == 302
    assert is_out(theirs) and api.get("/reviews/queue", token=token).status_code == 401
    assert admin_client.get("/account/security").status_code == 200
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "account.signed_out_everywhere")
                               ).scalar_one()
    assert entry.actor_id == admin.id and entry.object_id == str(user.id)

    unknown = post_form(admin_client, "/account/manage", {"email": "nobody@example.com", "sign_out": "y"})
    assert unknown.status_code == 404 and "没有使用该邮箱的账户" in unknown.text
    myself = post_form(admin_client, "/account/manage", {"email": admin.email, "deactivate": "y"})
    assert myself.status_code == 422 and "不能停用自己的账户" in myself.text
    assert admin_client.get("/account/security").status_code == 200


def test_only_administrators_manage_other_accounts(app, api):
    official, user = make_staff("official", "320000"), make_staff("reviewer", "320402")
    client = logged_in(app, official.email)
    page = client.get("/account/security").text
    assert 'name="deactivate"' not in page
    refused = post_form(client, "/account/manage", {"email": user.email, "deactivate": "y"})
    assert refused.status_code == 403
    assert db.session.get(User, user.id).active


@pytest.mark.parametrize("role, status", [(None, 401), ("enterprise", 403), ("reviewer", 403),
                                          ("official", 403), ("admin", 204)])
def test_sign_out_through_the_api_is_for_administrators(app, api, role, status):
    user = make_staff("reviewer", "320402")
    target_token = api.token(user.email)
    if role == "enterprise":
        token = api.register_firm()[1]
    elif role is None:
        token = None
    else:
        token = api.token(make_staff(role, None if role == "admin" else "320000").email)
    answer = api.post(f"/users/{user.id}/sign-out", token=token)
    assert answer.status_code == status, answer.get_json()
    assert (api.get("/reviews/queue", token=target_token).status_code == 401) == (status == 204)
    if role == "admin":
        assert api.post("/users/999999/sign-out", token=token).status_code == 404


# -- API tokens ----------------------------------------------------------------------------

def test_the_token_in_use_can_be_revoked(app, api):
    user = make_staff("reviewer", "320402")
    token, other = api.token(user.email), api.token(user.email)
    listed = api.get("/tokens", token=token).get_json()
    assert [t["current"] for t in listed] == [False, True]           # newest first
    assert set(listed[0]) == {"id", "created_at", "expires_at", "current"}

    answer = api.client.delete("/api/v1/tokens/current", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 204 and not answer.data
    assert api.get("/reviews/queue", token=token).status_code == 401
    assert api.get("/reviews/queue", token=other).status_code == 200
    assert "account.token_revoked" in actions(user.id)


def test_one_token_is_revoked_by_id_and_only_ones_own(app, api):
    user, stranger = make_staff("reviewer", "320402"), make_staff("reviewer", "320402")
    token, spare = api.token(user.email), api.token(user.email)
    theirs = api.token(stranger.email)
    spare_id = next(t["id"] for t in api.get("/tokens", token=token).get_json() if not t["current"])
    theirs_id = api.get("/tokens", token=theirs).get_json()[0]["id"]

    def delete(token_id, with_token):
        return api.client.delete(f"/api/v1/tokens/{token_id}", headers={"Authorization": f"Bearer {with_token}"})

    assert delete(theirs_id, token).status_code == 404                 # not one's own: as if absent
    assert api.get("/reviews/queue", token=theirs).status_code == 200
    assert delete(spare_id, token).status_code == 204
    assert api.get("/reviews/queue", token=spare).status_code == 401
    assert delete(spare_id, token).status_code == 404
    assert delete(2**40, token).status_code == 404
    assert [t["current"] for t in api.get("/tokens", token=token).get_json()] == [True]


def test_the_security_page_lists_and_revokes_tokens(app, api):
    user = make_staff("expert", "320400")
    first, second = api.token(user.email), api.token(user.email)
    client = logged_in(app, user.email)
    page = client.get("/account/security")
    assert page.status_code == 200
    ids = list(db.session.execute(select(ApiToken.id).where(ApiToken.user_id == user.id)
                                  .order_by(ApiToken.id)).scalars())
    for token_id in ids:
        assert f"/account/tokens/{token_id}/revoke" in page.text
    assert first not in page.text and second not in page.text          # the tokens themselves never

    assert post_form(client, f"/account/tokens/{ids[0]}/revoke").status_code == 302
    assert api.get("/applications", token=first).status_code == 401
    assert api.get("/applications", token=second).status_code == 200
    assert post_form(client, f"/account/tokens/{ids[0]}/revoke").status_code == 404

    stranger_token = api.token(make_staff("expert", "320400").email)
    stranger_id = db.session.execute(select(ApiToken.id).order_by(ApiToken.id.desc())).scalars().first()
    assert post_form(client, f"/account/tokens/{stranger_id}/revoke").status_code == 404
    assert api.get("/applications", token=stranger_token).status_code == 200

    done = post_form(client, "/account/tokens/revoke-all")
    assert done.status_code == 302
    assert api.get("/applications", token=second).status_code == 401
    assert "您目前没有有效的 API 令牌" in client.get("/account/security").text
    assert client.get(PAGE).status_code in (200, 403)                    # still logged in


def test_signing_out_elsewhere_keeps_this_session(app, api):
    user = make_staff("reviewer", "320402")
    mine = logged_in(app, user.email)
    thief = copy_of(app, mine)
    elsewhere = logged_in(app, user.email)
    assert post_form(mine, "/account/sign-out-elsewhere").status_code == 302
    assert mine.get(PAGE).status_code == 200
    assert is_out(thief) and is_out(elsewhere)


@pytest.mark.parametrize("path", ["/logout", "/account/password", "/account/sign-out-elsewhere",
                                  "/account/tokens/1/revoke", "/account/tokens/revoke-all", "/account/manage"])
def test_the_forms_need_their_csrf_token(app, api, path):
    admin = make_staff("admin", None)
    api.token(admin.email)
    client = logged_in(app, admin.email)
    data = {"email": admin.email, "sign_out": "y", "current_password": PASSWORD, "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD, "revoke_tokens": "y"}
    assert client.post(path, data=data).status_code == 400
    assert client.post(path, data={**data, "csrf_token": "forged"}).status_code == 400
    assert client.get(PAGE).status_code in (200, 403)                    # nothing ended
    assert db.session.execute(select(ApiToken.id)).first() is not None


def test_the_pages_need_a_login(app):
    client = app.test_client()
    for path in ("/account/security", "/account/password"):
        assert is_out(client, path)
