"""Accounts and sessions: password reset by emailed link (expires, single use), lockout in
the audit log, CSRF on every HTML form, cookie flags, headers, no default secret in
production."""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest
from sqlalchemy import func, select, text, update

from rating.extensions import db
from rating.models import AuditEntry, OutboxEmail, User
from rating.platform import mailer, outbox
from rating.services.accounts import signin
from rating.services.accounts.signin import hash_password
from tests.support import mail
from tests.support.factories import PASSWORD, make_staff
from tests.support.people import csrf_token
from tests.support.servers import BIN, ROOT

pytestmark = pytest.mark.integration

NEW_PASSWORD = "Neu2026passwort"


def _forgot(client, email):
    page = client.get("/password/forgot")
    return client.post("/password/forgot", data={"csrf_token": csrf_token(page.text), "email": email},
                       follow_redirects=True)


@pytest.fixture()
def mailbox(smtp_server):
    smtp_server.clear()
    return smtp_server


def _reset_link(mailbox, email: str) -> str:
    """The path of the link in the newest reset email to `email`, as the SMTP server
    received it (the outbox keeps no link: the sender makes it)."""
    mailer.flush()
    received = [mail.body(m) for m in mailbox.messages if m["To"] == email and "重置" in mail.subject(m)]
    assert received, "no reset email"
    return re.search(r"https?://\S+(/password/reset/\S+)", received[-1]).group(1)


def _set_password(client, path, password, confirm=None):
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf_token(page.text), "password": password,
                                   "confirm": confirm or password})


def test_reset_by_emailed_link_works_once(app, api, client, mailbox):
    user = make_staff("reviewer", "320402")
    token = api.token(user.email)
    answer = _forgot(client, user.email)
    assert "如果该邮箱已注册" in answer.text
    path = _reset_link(mailbox, user.email)
    page = client.get(path)
    assert page.status_code == 200 and user.email in page.text

    weak = _set_password(client, path, "short")
    assert weak.status_code == 422 and "至少 8 位" in weak.text
    mismatch = _set_password(client, path, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert mismatch.status_code == 422 and "不一致" in mismatch.text
    done = _set_password(client, path, NEW_PASSWORD)
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")

    assert api.post("/tokens", {"email": user.email, "password": PASSWORD}).status_code == 401
    assert api.post("/tokens", {"email": user.email, "password": NEW_PASSWORD}).status_code == 201
    assert api.get("/reviews/queue", token=token).status_code == 401            # old tokens revoked
    again = client.get(path)
    assert again.status_code == 410 and "已使用过" in again.text                 # single use
    token_page = client.get("/password/forgot").text          # a used link shows no form: post anyway
    assert client.post(path, data={"csrf_token": csrf_token(token_page), "password": "Another2026pw",
                                   "confirm": "Another2026pw"}).status_code == 410
    actions = db.session.execute(select(AuditEntry.action).where(AuditEntry.object_id == str(user.id))
                                 ).scalars().all()
    assert "account.reset_requested" in actions and "account.password_reset" in actions


def test_unknown_addresses_get_the_same_answer_and_no_mail(app, client):
    answer = _forgot(client, "nobody@nowhere.example")
    assert "如果该邮箱已注册" in answer.text
    assert db.session.execute(select(func.count()).select_from(OutboxEmail)).scalar_one() == 0


def test_expired_and_forged_links_are_refused(app, client, mailbox):
    user = make_staff("official", "320400")
    _forgot(client, user.email)
    path = _reset_link(mailbox, user.email)
    app.config["PASSWORD_RESET_MINUTES"] = 0
    try:
        time.sleep(1.1)
        expired = client.get(path)
        assert expired.status_code == 410 and "已过期" in expired.text
    finally:
        app.config["PASSWORD_RESET_MINUTES"] = 60
    forged = client.get(path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb"))
    assert forged.status_code == 410 and "无效" in forged.text
    assert client.get("/password/reset/%00%0a<script>").status_code == 410


def _at(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def _token(api, email: str, password: str, address: str = "10.0.0.1"):
    return api.post("/tokens", {"email": email, "password": password}, **_at(address))


def _web_login(client, email: str, password: str, address: str = "10.0.0.1"):
    page = client.get("/login", **_at(address))
    return client.post("/login", data={"csrf_token": csrf_token(page.text), "email": email, "password": password},
                       **_at(address))


def test_failures_pause_only_the_address_that_made_them(app, api):
    """Ten wrong passwords from one address pause that address for that email (even with
    the right password); the owner elsewhere logs in as usual."""
    user = make_staff("admin", None)
    for _ in range(10):
        assert _token(api, user.email, "wrong-Pass1", "10.0.0.1").status_code == 401
    paused = _token(api, user.email, PASSWORD, "10.0.0.1")
    assert paused.status_code == 429 and "已暂停从此处登录" in paused.get_json()["error"]["message"]
    assert _token(api, user.email, PASSWORD, "10.0.0.2").status_code == 201
    assert _token(api, user.email, PASSWORD, "10.0.0.1").status_code == 429        # still paused there
    actions = db.session.execute(select(AuditEntry.action).where(AuditEntry.object_id == str(user.id))).scalars()
    assert list(actions) == ["account.login_paused"]


def test_known_and_unknown_emails_get_the_same_answers(app, api, client):
    """Before the pause, at it and after it: the same status and the same bytes, whether
    or not the email has an account (API and login page alike)."""
    user = make_staff("reviewer", "320402")
    unknown = "nobody-" + user.email
    for n in range(12):
        mine, nobodys = (_token(api, email, "wrong-Pass1", "10.0.0.7") for email in (user.email, unknown))
        assert (mine.status_code, mine.data) == (nobodys.status_code, nobodys.data), n
    assert mine.status_code == 429
    pages = [_web_login(client, email, "wrong-Pass1", "10.0.0.7") for email in (user.email, unknown)]
    assert pages[0].status_code == pages[1].status_code == 429
    message = re.compile(r"<[^>]*>[^<]*已暂停从此处登录[^<]*<")
    assert message.search(pages[0].text).group(0) == message.search(pages[1].text).group(0)


def test_a_locked_account_tells_nothing_and_its_known_devices_still_log_in(app, api, client):
    """LOGIN_ACCOUNT_FAILURE_LIMIT failures from many addresses lock the account: from a new
    browser even the right password is answered as a wrong one, while the owner's browser
    (the cookie of an earlier login) logs in. A password reset lifts the lock."""
    user = make_staff("expert", "320400")
    owner = app.test_client()
    assert _web_login(owner, user.email, PASSWORD, "10.9.9.9").status_code == 302
    cookie = owner.get_cookie(signin.DEVICE_COOKIE)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax" and cookie.max_age > 300 * 86400
    limit = app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"]
    app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"] = 15
    try:
        for n in range(15):
            assert _token(api, user.email, "wrong-Pass1", f"10.0.1.{n // 10}").status_code == 401
        entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "account.locked")).scalar_one()
        assert entry.object_id == str(user.id) and '"failures":15' in entry.payload
        wrong = _token(api, "nobody-" + user.email, "wrong-Pass1", "10.0.2.1")
        right = _token(api, user.email, PASSWORD, "10.0.2.1")                  # a new address and browser
        assert (right.status_code, right.data) == (wrong.status_code, wrong.data) == (401, wrong.data)
        assert _web_login(client, user.email, PASSWORD, "10.0.2.2").status_code == 401
        forged = app.test_client()
        forged.set_cookie(signin.DEVICE_COOKIE, cookie.value[:-2] + "xx")
        assert _web_login(forged, user.email, PASSWORD, "10.0.2.2").status_code == 401
        assert _web_login(owner, user.email, PASSWORD, "10.0.2.3").status_code == 302     # known device
        # Even where an attacker's failures paused the address: the owner's browser passes.
        for _ in range(10):
            _token(api, user.email, "wrong-Pass1", "10.0.3.1")
        assert _web_login(forged, user.email, PASSWORD, "10.0.3.1").status_code == 429
        assert _web_login(owner, user.email, PASSWORD, "10.0.3.1").status_code == 302
    finally:
        app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"] = limit


def test_a_password_reset_lifts_the_lock(app, api, client, mailbox):
    user = make_staff("expert", "320400")
    db.session.execute(update(User).where(User.id == user.id).values(
        locked_until=func.now() + text("interval '10 minutes'")))
    db.session.commit()
    assert _token(api, user.email, PASSWORD).status_code == 401
    _forgot(client, user.email)
    assert _set_password(client, _reset_link(mailbox, user.email), NEW_PASSWORD).status_code == 302
    assert _token(api, user.email, NEW_PASSWORD, "10.0.0.2").status_code == 201


def test_a_success_clears_the_addresss_count(app, api):
    user = make_staff("official", "320400")
    for _ in range(9):
        assert _token(api, user.email, "wrong-Pass1").status_code == 401
    assert _token(api, user.email, PASSWORD).status_code == 201
    for _ in range(9):
        assert _token(api, user.email, "wrong-Pass1").status_code == 401
    assert _token(api, user.email, PASSWORD).status_code == 201
    assert db.session.get(User, user.id).failed_logins == 0


def test_every_html_form_refuses_a_post_without_csrf_token(app):
    official = make_staff("official", "320000")
    client = app.test_client()
    page = client.get("/login")
    client.post("/login", data={"csrf_token": csrf_token(page.text), "email": official.email, "password": PASSWORD})
    checked = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint.startswith("api."):
            continue
        values = {name: 1 if rule._converters[name].__class__.__name__ == "IntegerConverter" else "x"
                  for name in rule.arguments}
        path = rule.build(values, append_unknown=False)[1]
        response = client.post(path, data={"anything": "1"})
        assert response.status_code == 400, (rule.rule, response.status_code)
        checked.append(rule.rule)
    assert len(checked) >= 20 and "/password/forgot" in checked and "/ratings/import" in checked


def test_session_cookie_flags(app, client):
    user = make_staff("official", "320400")
    page = client.get("/login")
    response = client.post("/login", data={"csrf_token": csrf_token(page.text), "email": user.email,
                                           "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def _create_app(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "RATING_ENV", "SESSION_COOKIE_SECURE")}
    code = "from rating import create_app; print(create_app().config['SESSION_COOKIE_SECURE'])"
    return subprocess.run([str(BIN / "python"), "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True,
                          text=True, timeout=120)


def test_production_needs_a_secret_and_secure_cookies(app_env, tmp_path):
    base = {"INSTANCE_PATH": str(tmp_path), "DATABASE_URL": app_env["DATABASE_URL"]}
    refused = _create_app({**base, "RATING_ENV": "production"})
    assert refused.returncode != 0 and "SECRET_KEY must be set" in refused.stderr
    started = _create_app({**base, "RATING_ENV": "production", "SECRET_KEY": "a-real-secret-from-the-vault"})
    assert started.returncode == 0 and started.stdout.strip() == "True"
    development = _create_app(base)
    assert development.returncode == 0 and development.stdout.strip() == "False"


def test_security_headers_on_pages_and_api(app, client):
    for path in ("/", "/login", "/api/v1/jurisdictions", "/verify/NOPE"):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        script = re.search(r"script-src ([^;]+)", policy).group(1)
        assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, path
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")


def test_a_reset_link_changes_only_its_own_account(app, api, client, mailbox):
    one, other = make_staff("reviewer", "320402"), make_staff("reviewer", "320411")
    _forgot(client, one.email)
    path = _reset_link(mailbox, one.email)
    assert _set_password(client, path, NEW_PASSWORD).status_code == 302
    db.session.expire_all()
    assert api.post("/tokens", {"email": other.email, "password": PASSWORD}).status_code == 201
    assert api.post("/tokens", {"email": other.email, "password": NEW_PASSWORD}).status_code == 401
    assert db.session.get(User, other.id).password_hash != db.session.get(User, one.id).password_hash


def _stored_reset_rows() -> list[str]:
    """Every column of every reset email in the outbox, as PostgreSQL holds it."""
    db.session.rollback()
    return db.session.execute(text("SELECT e::text FROM email_outbox e WHERE kind = 'password_reset'")
                              ).scalars().all()


def test_the_outbox_never_holds_a_reset_link(app, client, mailbox):
    """The outbox keeps the email without its link; the sender makes one as it sends, and
    the row it marks sent still has none. The link that arrives works."""
    user = make_staff("reviewer", "320402")
    _forgot(client, user.email)
    [before] = _stored_reset_rows()
    assert "/password/reset/" not in before and outbox.RESET_LINK_PLACEHOLDER in before
    path = _reset_link(mailbox, user.email)                      # flushed: sent now
    token = path.rsplit("/", 1)[1]
    [after] = _stored_reset_rows()
    assert db.session.execute(select(OutboxEmail.status)).scalar_one() == "sent"
    assert "/password/reset/" not in after and token not in after
    assert client.get(path).status_code == 200
    assert _set_password(client, path, NEW_PASSWORD).status_code == 302


def test_a_reset_email_tried_again_keeps_its_message_id_and_gets_a_working_link(app, api, client, mailbox):
    """The server is down when the email is first tried, and the password changes before
    it is tried again: what arrives has the message's one Message-ID and a link that works
    (made when sent, for the password the account has then). The link is never stored."""
    user = make_staff("official", "320400")
    _forgot(client, user.email)
    port, app.config["MAIL_PORT"] = app.config["MAIL_PORT"], 1          # nothing listens there
    try:
        with pytest.raises(mailer.DeliveryFailed):
            mailer.flush()
    finally:
        app.config["MAIL_PORT"] = port
    db.session.execute(update(User).where(User.id == user.id).values(password_hash=hash_password("Changed2026pw")))
    db.session.execute(update(OutboxEmail).values(next_attempt_at=OutboxEmail.created_at))    # due again
    db.session.commit()
    path = _reset_link(mailbox, user.email)
    [message] = [m for m in mailbox.messages if m["To"] == user.email]
    outbox_id = db.session.execute(select(OutboxEmail.id)).scalar_one()
    assert message["Message-ID"].startswith(f"<outbox-{outbox_id}@")
    assert all("/password/reset/" not in row for row in _stored_reset_rows())
    assert _set_password(client, path, NEW_PASSWORD).status_code == 302
    assert api.post("/tokens", {"email": user.email, "password": NEW_PASSWORD}).status_code == 201


def test_a_reset_email_for_an_account_deactivated_meanwhile_is_not_sent(app, client, mailbox):
    user = make_staff("reviewer", "320402")
    _forgot(client, user.email)
    db.session.execute(update(User).where(User.id == user.id).values(active=False))
    db.session.commit()
    assert mailer.flush() == {"sent": 0, "failed": 1, "retry": 0}
    assert not mailbox.messages
    row = db.session.execute(select(OutboxEmail)).scalar_one()
    assert row.status == "failed" and "no active account" in row.last_error


def test_failures_are_counted_in_memory_while_the_limiter_storage_is_down(app, api, monkeypatch):
    from redis.exceptions import ConnectionError as RedisDown

    class Down:
        @property
        def limiter(self):
            raise RedisDown("Redis is down")

    monkeypatch.setattr(signin, "limiter", Down())
    user = make_staff("reviewer", "320402")
    assert [_token(api, user.email, "wrong-Pass1").status_code for _ in range(11)] == [401] * 10 + [429]
    assert _token(api, user.email, PASSWORD, "10.0.0.2").status_code == 201
    app.extensions.pop("rating_login_failures")
