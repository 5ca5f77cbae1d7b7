"""Accounts and sessions: password reset by emailed link (expires, single use), lockout in
the audit log, CSRF on every HTML form, cookie flags, headers, no default secret in
production."""
from __future__ import annotations

import os
import re
import subprocess
import time

from sqlalchemy import func, select

from rating.extensions import db
from rating.models import AuditEntry, OutboxEmail, User
from tests.conftest import csrf_token
from tests.factories import PASSWORD, make_staff
from tests.support.servers import BIN, ROOT

NEW_PASSWORD = "Neu2026passwort"


def _forgot(client, email):
    page = client.get("/password/forgot")
    return client.post("/password/forgot", data={"csrf_token": csrf_token(page.text), "email": email},
                       follow_redirects=True)


def _reset_link(email: str) -> str:
    body = db.session.execute(select(OutboxEmail.body).where(OutboxEmail.to_address == email,
                                                             OutboxEmail.kind == "password_reset")
                              .order_by(OutboxEmail.id.desc())).scalars().first()
    assert body, "no reset email"
    return re.search(r"https?://\S+(/password/reset/\S+)", body).group(1)


def _set_password(client, path, password, confirm=None):
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf_token(page.text), "password": password,
                                   "confirm": confirm or password})


def test_reset_by_emailed_link_works_once(app, api, client):
    user = make_staff("reviewer", "320402")
    token = api.token(user.email)
    answer = _forgot(client, user.email)
    assert "如果该邮箱已注册" in answer.text
    path = _reset_link(user.email)
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


def test_expired_and_forged_links_are_refused(app, client):
    user = make_staff("official", "320400")
    _forgot(client, user.email)
    path = _reset_link(user.email)
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


def test_lockout_is_recorded_and_a_reset_lifts_it(app, api, client):
    user = make_staff("expert", "320400")
    for _ in range(10):
        assert api.post("/tokens", {"email": user.email, "password": "wrong-Pass1"}).status_code == 401
    locked = api.post("/tokens", {"email": user.email, "password": PASSWORD})
    assert locked.status_code == 429
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "account.locked")).scalar_one()
    assert entry.object_id == str(user.id) and '"failures":10' in entry.payload
    _forgot(client, user.email)
    assert _set_password(client, _reset_link(user.email), NEW_PASSWORD).status_code == 302
    assert api.post("/tokens", {"email": user.email, "password": NEW_PASSWORD}).status_code == 201


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


def test_a_reset_link_changes_only_its_own_account(app, api, client):
    one, other = make_staff("reviewer", "320402"), make_staff("reviewer", "320411")
    _forgot(client, one.email)
    path = _reset_link(one.email)
    assert _set_password(client, path, NEW_PASSWORD).status_code == 302
    db.session.expire_all()
    assert api.post("/tokens", {"email": other.email, "password": PASSWORD}).status_code == 201
    assert api.post("/tokens", {"email": other.email, "password": NEW_PASSWORD}).status_code == 401
    assert db.session.get(User, other.id).password_hash != db.session.get(User, one.id).password_hash
