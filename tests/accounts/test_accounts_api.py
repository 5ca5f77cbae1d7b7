"""Registration, tokens and reference data through the JSON API, on PostgreSQL."""
from __future__ import annotations

import pytest

from rating.rules.uscc import uscc_from_serial
from tests.support.factories import PASSWORD

pytestmark = pytest.mark.integration


def registration(**overrides) -> dict:
    body = {
        "name": "常州星云科技有限公司", "uscc": uscc_from_serial(7, division="320402"),
        "district_code": "320402", "industry": "C", "scale": "small", "contact_name": "王工",
        "contact_phone": "0519-12345678", "email": "star@example.com", "password": PASSWORD,
    }
    body.update(overrides)
    return body


def test_register_then_token(api):
    response = api.post("/enterprises", registration())
    assert response.status_code == 201
    created = response.get_json()
    assert created["uscc"] == uscc_from_serial(7, division="320402")
    assert created["district_code"] == "320402" and isinstance(created["district_code"], str)
    token = api.post("/tokens", {"email": "STAR@example.com ", "password": PASSWORD})
    assert token.status_code == 201
    assert set(token.get_json()) == {"token", "expires_at"}


def test_lower_case_and_spaced_code_is_normalised(api):
    code = uscc_from_serial(8, division="320402")
    response = api.post("/enterprises", registration(uscc=f" {code[:6].lower()} {code[6:]}"))
    assert response.status_code == 201
    assert response.get_json()["uscc"] == code


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"uscc": "91320402MA1234567X"}, "uscc"),          # wrong check character
        ({"uscc": "9132040212345678"}, "uscc"),            # too short
        ({"uscc": "91320402ZZZZZZZZZZ"}, "uscc"),           # forbidden letters
        ({"district_code": "320400"}, "district_code"),    # a city, not a county
        ({"district_code": "110101"}, "district_code"),    # another province
        ({"industry": "Z"}, "industry"),
        ({"scale": "huge"}, "scale"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "short"}, "password"),
        ({"name": ""}, "name"),
        ({"contact_phone": 12345678}, "contact_phone"),   # wrong JSON type
    ],
)
def test_registration_rejects_bad_fields(api, overrides, field):
    response = api.post("/enterprises", registration(**overrides))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"], error


def test_duplicate_code_or_email_is_409(api):
    assert api.post("/enterprises", registration()).status_code == 201
    same_code = api.post("/enterprises", registration(email="other@example.com"))
    assert same_code.status_code == 409
    assert "uscc" in same_code.get_json()["error"]["fields"]
    same_email = api.post("/enterprises", registration(uscc=uscc_from_serial(9, division="320402")))
    assert same_email.status_code == 409
    assert "email" in same_email.get_json()["error"]["fields"]


def test_bad_password_is_401_and_lockout_is_429(api):
    api.post("/enterprises", registration())
    for _ in range(10):
        assert api.post("/tokens", {"email": "star@example.com", "password": "wrong"}).status_code == 401
    locked = api.post("/tokens", {"email": "star@example.com", "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.get_json()["error"]["code"] == "rate_limited"


def test_successful_logins_are_not_throttled(api):
    api.post("/enterprises", registration())
    for _ in range(15):
        assert api.post("/tokens", {"email": "star@example.com", "password": PASSWORD}).status_code == 201


def test_failures_reset_after_success(api):
    api.post("/enterprises", registration())
    for _ in range(9):
        api.post("/tokens", {"email": "star@example.com", "password": "wrong"})
    assert api.post("/tokens", {"email": "star@example.com", "password": PASSWORD}).status_code == 201
    for _ in range(9):
        assert api.post("/tokens", {"email": "star@example.com", "password": "wrong"}).status_code == 401


@pytest.mark.parametrize("token", ["garbage", "x" * 500, ""])
def test_invalid_tokens_are_401(api, token):
    response = api.client.get("/api/v1/applications", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_expired_token_is_401(api, app):
    from datetime import timedelta

    from rating import clock
    from rating.extensions import db
    from rating.models import ApiToken

    _firm, token = api.register_firm()
    db.session.execute(ApiToken.__table__.update().values(expires_at=clock.now() - timedelta(seconds=1)))
    db.session.commit()
    assert api.get("/applications", token=token).status_code == 401


def test_jurisdictions(api):
    rows = api.get("/jurisdictions").get_json()
    assert len(rows) == 118
    by_code = {r["code"]: r for r in rows}
    assert by_code["320000"] == {"code": "320000", "name": "江苏省", "level": "province", "parent_code": None}
    assert by_code["320402"]["parent_code"] == "320400" and by_code["320402"]["name"] == "天宁区"
    assert sum(r["level"] == "county" for r in rows) == 104
    assert sum(r["level"] == "city" for r in rows) == 13


@pytest.mark.parametrize("code", ["js-2022", "js-2024"])
def test_guide_edition_shape(api, code):
    body = api.get(f"/guide-editions/{code}").get_json()
    assert body["code"] == code
    assert set(body["levels"]) == {"3", "4", "5"}
    for level in body["levels"].values():
        assert {"deployments", "min_investment_yuan", "min_usage_months", "pass_score", "requires_level"} <= set(level)
    types = {i["type"] for i in body["indicators"]}
    assert types == {"boolean", "integer", "decimal", "choice", "multi_choice", "text", "date"}
    assert body["levels"]["5"]["requires_level"] == 4
    assert body["levels"]["3"]["requires_level"] is None


def test_unknown_edition_is_404(api):
    response = api.get("/guide-editions/nope")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_batches(api, app):
    from tests.support.factories import make_batch

    batch = make_batch()
    rows = api.get("/batches").get_json()
    assert rows[0]["id"] == batch.id and rows[0]["is_open"] is True
    assert rows[0]["guide_edition"] == "js-2024"
    assert rows[0]["opens_at"].endswith("+08:00")


def test_english_messages_on_request(api):
    response = api.post("/enterprises", registration(uscc="123"), headers={"Accept-Language": "en"})
    message = response.get_json()["error"]["message"]
    assert message.isascii(), message


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_reports_a_dead_broker(client, redis_server):
    redis_server.stop()
    try:
        response = client.get("/healthz")
    finally:
        redis_server.start()
    assert response.status_code == 503
    assert response.get_json() == {"status": "down", "database": "ok", "broker": "down"}


def test_control_characters_in_names_are_refused(api):
    response = api.post("/enterprises", registration(name="常州\x00公司"))
    assert response.status_code == 422
    assert "name" in response.get_json()["error"]["fields"]


def test_a_request_looks_its_token_up_once_and_acts_as_its_user(api, app, monkeypatch):
    """The bearer token's user is the request's user, for the view and for everything that
    reads `current_user` after it (the language, emails): one token lookup a request."""
    from flask_login import current_user
    from sqlalchemy import event

    from rating.extensions import db
    from rating.views.api import applications as views

    _firm, token = api.register_firm("320402")
    seen, lookups = [], []
    original = views.api_user

    def watching():
        seen.append((current_user.id, original().id))
        return original()

    def count(_conn, _cursor, statement, *_args) -> None:
        if "FROM api_tokens" in statement:
            lookups.append(statement)

    monkeypatch.setattr(views, "api_user", watching)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = api.get("/applications", token=token)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200
    assert len(lookups) == 1, lookups
    assert seen and all(mine == theirs for mine, theirs in seen), seen
