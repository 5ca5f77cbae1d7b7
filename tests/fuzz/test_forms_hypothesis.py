"""Hypothesis against every HTML form and the JSON bodies of the API's writes: hostile values
(control characters, huge numbers and strings, impossible dates, several values for one
field, missing fields, odd file names and contents, garbage JSON) never make a 500 or show a
stack trace, and a refused submission changes no row of any table and writes no file.

One seeded world for all forms (one subtest each), in an order where forms that end a
state (withdraw, close, log out) come last. Derandomized: the same cases on every run.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

import pytest
from flask import message_flashed
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select

from rating import clock
from rating.extensions import db, limiter
from rating.models import Application
from rating.rules.uscc import uscc_from_serial
from rating.services.reference import get_edition
from tests.support.factories import PASSWORD, favourable_answer
from tests.support.people import csrf_token, logged_in
from tests.support.snapshot import fingerprint, stored_files
from tests.support.strategies import FILES, MISSING, RAW, RAW_BODIES, form_data, json_body

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = 25
FUZZ = settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
STACK_TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.exc", "psycopg.",
                       "werkzeug.exceptions", "jinja2.exceptions")
# A failed login is recorded even though it is refused: the lockout counts it, the audit log keeps it.
LOGIN_WRITES = frozenset({"users", "audit_entries", "audit_head"})
NOTHING = frozenset()


def today(days: int = 0) -> str:
    return (clock.today() + timedelta(days=days)).isoformat()


def version(application_id: int) -> int:
    return db.session.scalar(select(Application.version).where(Application.id == application_id))


def indicator() -> str:
    return get_edition("js-2024").indicators_for(3)[0].code


def application_fields(w) -> dict:
    """A complete, valid save of the firm's form: every answer, one service with one payment."""
    answers = {f"answers-{i.code}": favourable_answer(i) for i in get_edition("js-2024").indicators_for(3)}
    service = {"provider": "天翼云", "service_name": "云主机", "category": "iaas", "deployment": "public",
               "started_on": today(-400), "ended_on": "", "payments-0-paid_on": today(-30),
               "payments-0-amount": "12000.50"}
    return {"target_level": 3, "version": version(w.ids["application_id"]), "add_payment-0": "1",
            **{name: "true" if value is True else value for name, value in answers.items()},
            **{f"cloud_services-0-{name}": value for name, value in service.items()}}


def batch_fields(w) -> dict:
    """Every term of a batch: the world's batch's cut-off and investment window (frozen once filed)."""
    return {"name": "模糊测试批次", "guide_edition": "js-2024", "opens_at": f"{today(-1)}T00:00",
            "closes_at": f"{today(30)}T17:30", "usage_cutoff": today(),
            "investment_from": f"{clock.today().year - 1}-01-01", "investment_to": today(),
            "review_days_county": 10, "review_days_city": 20, "review_days_province": 30, "levels": ["3", "4"]}


@dataclass(frozen=True)
class Form:
    endpoint: str
    who: str | None                            # whose session posts it (None: anyone's)
    path: str                                  # formatted with the world's ids
    fields: Callable = lambda w: {}            # world → a valid post
    files: tuple[str, ...] = ()
    may_write: frozenset[str] = NOTHING        # tables written even when the post is refused


FORMS = [
    Form("auth.login", None, "/login", lambda w: {"email": w.emails["firm"], "password": PASSWORD},
         may_write=LOGIN_WRITES),
    Form("auth.register", None, "/register", lambda w: {
        "name": "常州模糊测试有限公司", "uscc": uscc_from_serial(77, division="320402"),
        "district_code": "320402", "industry": "C", "scale": "small", "contact_name": "李工",
        "contact_phone": "0519-8888888", "email": "new-firm@example.com", "password": PASSWORD,
        "confirm": PASSWORD}),
    Form("auth.forgot_password", None, "/password/forgot", lambda w: {"email": w.emails["official"]}),
    Form("auth.reset_password", None, "/password/reset/{reset_token}",
         lambda w: {"password": "Neu2026passwort", "confirm": "Neu2026passwort"}),
    Form("publicity.object_to", None, "/publicity/{notice_id}", lambda w: {
        "application_id": w.ids["publicised"], "name": "王五", "contact": "13900000001", "reason": "虚报上云投入，付款凭证不实。"}),
    Form("verify.check_file", None, "/verify/{certificate_no}", files=("file",)),
    Form("applications.create", "firm", "/applications/new",
         lambda w: {"batch_id": w.ids["batch_id"], "target_level": 3}),
    Form("applications.edit", "firm", "/applications/{application_id}/edit", application_fields),
    Form("applications.upload_evidence", "firm", "/applications/{application_id}/evidence",
         lambda w: {"indicator_code": indicator()}, files=("file",)),
    Form("applications.submit", "firm", "/applications/{application_id}/submit", lambda w: {"pledge": "y"}),
    Form("applications.delete_evidence", "firm",
         "/applications/{application_id}/evidence/{evidence_id}/delete"),
    Form("reviews.decide", "county", "/reviews/{at_county}/decide", lambda w: {
        "decision": "forward", "comment": "材料齐全", "version": version(w.ids["at_county"])}),
    Form("reviews.expert_scores", "expert", "/reviews/{at_city}/expert-scores",
         lambda w: {"scores-0-code": indicator(), "scores-0-points": "3", "comment": "同意"}),
    Form("reviews.assign_experts", "official", "/reviews/{at_city}/experts", lambda w: {"count": 1}),
    Form("reviews.blacklist_page", "official", "/reviews/blacklist", lambda w: {
        "enterprise": "测试企业", "provider_id": w.ids["provider_id"], "reason": "虚开发票"}),
    Form("conflicts.index", "county", "/reviews/conflicts/", lambda w: {
        "uscc": "", "group_name": "", "provider_name": "某云", "note": "曾任顾问"}),
    Form("conflicts.withdraw", "county", "/reviews/conflicts/{conflict_id}/withdraw"),
    Form("providers.index", "official", "/providers/", lambda w: {"name": "某新云", "aliases": "某新云有限公司"}),
    Form("providers.edit", "official", "/providers/{provider_id}/edit", lambda w: {
        "name": "某云", "aliases": "某云有限公司\n某云计算"}),
    Form("reviews.lift_blacklist", "official", "/reviews/blacklist/{entry_id}/lift",
         lambda w: {"reason": "已整改"}),
    Form("publicity.manage", "official", "/publicity/manage", lambda w: {
        "title": "拟认定名单公示", "application_ids": [w.ids["at_city"], w.ids["publicised"]],
        "starts_on": today(), "ends_on": today(5)}),
    Form("publicity.resolve", "official", "/publicity/{notice_id}/objections/{objection_id}/resolve",
         lambda w: {"outcome": "uphold", "action": "return", "comment": "经核实异议成立"}),
    Form("publicity.generate_certificates", "official", "/publicity/{notice_id}/certificates"),
    Form("ratings.disbursement", "official", "/ratings/{certificate_no}/disbursement",
         lambda w: {"state": "paid", "disbursed_on": today(), "note": "已拨付"}),
    Form("ratings.regenerate", "official", "/ratings/{certificate_no}/regenerate"),
    Form("ratings.import_list", "official", "/ratings/import", files=("file",)),
    Form("claims.decide", "official", "/enterprise-claims/{claim_id}", lambda w: {
        f"claim-{w.ids['claim_id']}-comment": "已核营业执照", f"claim-{w.ids['claim_id']}-reject": "1"}),
    Form("dashboard.start_export", "official", "/exports",
         lambda w: {"format": "csv", "level": "3", "status": "valid", "year": clock.today().year}),
    Form("ratings.revoke", "official", "/ratings/{certificate_no}/revoke",
         lambda w: {"reason": "材料造假", "blacklist_enterprise": "y"}),
    Form("publicity.close", "official", "/publicity/{notice_id}/close"),
    Form("applications.withdraw", "firm", "/applications/{application_id}/withdraw"),
    # After the withdrawal: the copy of the withdrawn application is then allowed.
    Form("applications.copy", "firm", "/applications/{application_id}/copy"),
    Form("account.revoke_token", "account", "/account/tokens/{token_id}/revoke"),
    Form("account.revoke_tokens", "account", "/account/tokens/revoke-all"),
    Form("account.sign_out_elsewhere", "account", "/account/sign-out-elsewhere"),
    Form("account.password", "account", "/account/password", lambda w: {
        "current_password": PASSWORD, "new_password": "Neu2026passwort", "confirm": "Neu2026passwort"}),
    Form("account.manage", "admin", "/account/manage", lambda w: {"email": w.emails["account"], "sign_out": "y"}),
    Form("auth.logout", "county", "/logout", lambda w: {"revoke_tokens": "y"}),
    Form("staff.invite", "official", "/staff/invite", lambda w: {
        "email": "fuzz-invite@bureau.example", "name": "新人", "role": "reviewer", "jurisdiction_code": "320402"}),
    Form("staff.edit", "official", "/staff/{staff_id}", lambda w: {
        "name": "改名", "role": "reviewer", "jurisdiction_code": "320411", "active": "y"}),
    Form("account.invite_firm_user", "firm", "/account/firm-users/invite",
         lambda w: {"email": "fuzz-mate@example.com", "name": "同事"}),
    Form("account.change_firm_user", "firm", "/account/firm-users/{firm_user_id}", lambda w: {"make_admin": "y"}),
    Form("account.profile", "firm", "/account/profile",
         lambda w: {"name": "王工", "phone": "0519-12345678", "locale": "zh_Hans_CN"}),
    Form("quotas.save", "official", "/quotas/{batch_id}",
         lambda w: {"district_code": "320402", "level": "3", "kind": "count", "max_count": "5"}),
    Form("editions.upload", "admin", "/guide-editions", lambda w: {"source": "code: fuzz", "media_type": "text/yaml"}),
    # Batches last: a valid post moves the world's batch (its cut-off and investment window as they are).
    Form("batches.city_deadline", "official", "/batches/{batch_id}/city-deadline",
         lambda w: {"closes_at": f"{today(20)}T17:00"}),
    Form("batches.create", "admin", "/batches/new", batch_fields),
    Form("batches.edit", "admin", "/batches/{batch_id}/edit", batch_fields),
    Form("batches.close", "admin", "/batches/{batch_id}/close"),
]


def no_stack_trace(response) -> None:
    body = response.get_data().decode("utf-8", "replace")
    for marker in STACK_TRACE_MARKERS:
        assert marker not in body, f"a stack trace in the page: {marker}"


def refused(client, response, flashed: list[str]) -> bool:
    """A 4xx, an error flashed, or the form shown again; not a success said or a file sent."""
    with client.session_transaction() as session:
        session.pop("_flashes", None)        # what a redirect left for the next page
    if response.status_code >= 400 or "error" in flashed:
        return True
    if {"success", "info", "warning"} & set(flashed):
        return False
    return response.status_code == 200 and response.mimetype == "text/html"


@pytest.fixture()
def flashed(app):
    """The categories of the messages flashed by the request at hand (rendered ones included)."""
    categories: list[str] = []

    def record(_app, message, category, **_extra):
        categories.append(category)

    with message_flashed.connected_to(record, app):
        yield categories


def test_every_html_form_is_fuzzed(app):
    posts = {rule.endpoint for rule in app.url_map.iter_rules()
             if "POST" in rule.methods and not rule.endpoint.startswith("api.")}
    assert posts == {form.endpoint for form in FORMS}


def post(client, path, data: dict, files: bool, encoding, token: str):
    """As a browser posts a form, or (what a script may send) a JSON body with the token in
    the header Flask-WTF also reads: the fields as JSON, or garbage."""
    if encoding == "form" or files:
        return client.post(path, data=data, content_type="multipart/form-data" if files else None)
    headers = {"X-CSRFToken": data.pop("csrf_token", "")}
    if encoding == "json":
        return client.post(path, json=data, headers=headers)
    return client.post(path, data=RAW_BODIES[encoding], headers=headers, content_type="application/json")


def test_html_forms_survive_hostile_input(app, world, flashed, subtests):
    clients = {who: logged_in(app, world.emails[who]) for who in {f.who for f in FORMS if f.who}}
    for form in FORMS:
        client = clients.get(form.who) or app.test_client()
        token = csrf_token(client.get("/login").text)
        path = form.path.format(**world.ids)

        @FUZZ
        @given(data=form_data(form.fields(world)),
               files=st.fixed_dictionaries({name: FILES for name in form.files}),
               csrf=st.sampled_from(["valid"] * 8 + ["missing", "forged"]),
               encoding=st.one_of(st.just("form"), st.just("form"), st.just("json"), RAW))
        def fuzz(data, files, csrf, encoding):
            limiter.reset()          # the fuzzing is of input, not of the rate limits
            if csrf != "missing":
                data["csrf_token"] = token if csrf == "valid" else token[::-1]
            for name, upload in files.items():
                if upload is not MISSING:
                    data[name] = (io.BytesIO(upload[0]), upload[1])
            note(f"POST {path} as {encoding}, csrf {csrf}: {str(data)[:3000]}")
            before, files_before = fingerprint(form.may_write), stored_files(app)
            flashed.clear()
            response = post(client, path, data, bool(files), encoding, token)
            assert response.status_code < 500, response.get_data(as_text=True)[:1000]
            no_stack_trace(response)
            if refused(client, response, flashed):
                assert fingerprint(form.may_write) == before, "a refused post changed the database"
                assert stored_files(app) == files_before, "a refused post left a file in storage"

        with subtests.test(msg=form.endpoint):
            fuzz()


PAGES = [   # GET pages that read their query string
    ("county", "/reviews/", ("level", "overdue", "page", "per_page")),
    ("official", "/dashboard", ("level", "on")),
    ("official", "/ratings/", ("q", "level", "status", "page")),
    ("official", "/staff", ("q", "role", "active", "page")),
    ("official", "/audit/", ("actor", "action", "object_type", "object_id", "since", "until", "page")),
    ("official", "/providers/", ("q",)),
    ("admin", "/batches/new", ("copy",)),
    ("firm", "/applications/{application_id}/edit", ("add_service", "add_payment")),
    (None, "/publicity/{notice_id}", ("application_id",)),
    (None, "/verify/{certificate_no}", ("sig",)),
    (None, "/", ("lang",)),
]


def test_pages_survive_hostile_query_strings(app, world, subtests):
    for who, template, names in PAGES:
        client = logged_in(app, world.emails[who]) if who else app.test_client()
        path = template.format(**world.ids)

        @FUZZ
        @given(query=form_data({name: "1" for name in names}))
        def fuzz(query):
            note(f"GET {path} {str(query)[:3000]}")
            response = client.get(path, query_string=query)
            assert response.status_code < 500, response.get_data(as_text=True)[:1000]
            no_stack_trace(response)

        with subtests.test(msg=template):
            fuzz()


# -- the JSON API's writes ------------------------------------------------------------------

def service_json() -> dict:
    return {"provider": "天翼云", "service_name": "云主机", "category": "iaas", "deployment": "public",
            "started_on": today(-400), "ended_on": None,
            "payments": [{"paid_on": today(-30), "amount": 12000.5}]}


WRITES = [   # method, path (formatted with the world's ids), whose token, world → a valid body
    ("POST", "/tokens", None, lambda w: {"email": w.emails["firm"], "password": PASSWORD}),
    ("POST", "/enterprises", None, lambda w: {
        "name": "常州接口测试有限公司", "uscc": uscc_from_serial(88, division="320402"),
        "district_code": "320402", "industry": "C", "scale": "small", "contact_name": "王工",
        "contact_phone": "0519-1234567", "email": "json-firm@example.com", "password": PASSWORD}),
    ("POST", "/applications", "firm", lambda w: {"batch_id": w.ids["batch_id"], "target_level": 3,
                                                  "answers": {}, "cloud_services": []}),
    ("PATCH", "/applications/{application_id}", "firm", lambda w: {
        "answers": {name.removeprefix("answers-"): value for name, value in application_fields(w).items()
                    if name.startswith("answers-")},
        "cloud_services": [service_json()], "version": version(w.ids["application_id"])}),
    ("POST", "/applications/{application_id}/submit", "firm", lambda w: {"pledge": True}),
    ("POST", "/applications/{at_county}/decisions", "county", lambda w: {
        "decision": "forward", "comment": "同意", "version": version(w.ids["at_county"]),
        "adjustments": [{"code": indicator(), "points": 1, "reason": "核实"}]}),
    ("POST", "/applications/{at_city}/expert-scores", "expert",
     lambda w: {"scores": [{"code": indicator(), "points": 1}], "comment": "同意"}),
    ("POST", "/applications/{at_city}/experts", "official", lambda w: {"expert_ids": [1], "count": 1}),
    ("POST", "/applications/{at_city}/assignment", "official", lambda w: {"reviewer_id": 1, "reason": "调整"}),
    ("POST", "/reviewer-conflicts", "county", lambda w: {"provider_name": "某云", "note": "曾任顾问"}),
    ("POST", "/blacklist", "official", lambda w: {"enterprise_id": w.ids["enterprise_id"], "reason": "造假"}),
    ("POST", "/blacklist/{entry_id}/lift", "official", lambda w: {"reason": "已整改"}),
    ("POST", "/batch-quotas", "official", lambda w: {
        "batch_id": w.ids["batch_id"], "district_code": "320402", "level": 3, "percent": 10,
        "base_count": 200}),
    ("POST", "/publicity-notices", "official", lambda w: {
        "title": "公示", "application_ids": [w.ids["publicised"]], "starts_on": today(), "ends_on": today(5)}),
    ("POST", "/publicity-notices/{notice_id}/objections", None, lambda w: {
        "application_id": w.ids["publicised"], "name": "张三", "contact": "139", "reason": "不实"}),
    ("POST", "/publicity-notices/{notice_id}/objections/{objection_id}/resolve", "official",
     lambda w: {"outcome": "dismiss", "comment": "不成立"}),
    ("POST", "/ratings/{certificate_no}/disbursement", "official",
     lambda w: {"state": "paid", "disbursed_on": today(), "note": "已拨付"}),
    ("POST", "/ratings/{certificate_no}/revoke", "official", lambda w: {"reason": "造假"}),
    ("POST", "/applications/{application_id}/withdraw", "firm", lambda w: {"comment": "暂不申报"}),
    # A wrong current password: every case reaches the form rather than ending the token.
    ("POST", "/me/password", "account", lambda w: {"current_password": "not-the-password1",
                                                     "new_password": "Neu2026passwort"}),
]


def test_api_writes_survive_garbage_json(app, api, world, subtests):
    for method, template, who, valid in WRITES:
        path = "/api/v1" + template.format(**world.ids)
        headers = {"Authorization": f"Bearer {world.tokens[who]}"} if who else {}
        may_write = LOGIN_WRITES if template == "/tokens" else NOTHING

        @FUZZ
        @given(body=json_body(valid(world)), raw=st.one_of(st.none(), RAW))
        def fuzz(body, raw):
            limiter.reset()
            note(f"{method} {path}: {str(body)[:3000] if raw is None else RAW_BODIES[raw][:200]}")
            before = fingerprint(may_write)
            if raw is None:
                response = api.client.open(path, method=method, json=body, headers=headers)
            else:
                response = api.client.open(path, method=method, data=RAW_BODIES[raw], headers=headers,
                                           content_type="application/json")
            assert response.status_code < 500, response.get_data(as_text=True)[:1000]
            no_stack_trace(response)
            assert response.is_json, response.mimetype
            if response.status_code >= 400:
                error = response.get_json()["error"]
                assert error["code"] and error["message"] and isinstance(error["fields"], dict)
                assert fingerprint(may_write) == before, "a refused request changed the database"

        with subtests.test(msg=f"{method} {template}"):
            fuzz()


# -- what the fuzzers found, pinned ---------------------------------------------------------

# One world for each group of pinned cases (building it is most of their time); a case that
# fails is reported as its own subtest.
HOSTILE_PAGES = [
    (None, "/verify/JS%00"), ("official", "/ratings/JS%00"), ("official", "/ratings/?q=%E5%B8%B8%00"),
    ("county", "/reviews/?level=250919205700"), ("county", "/reviews/?level=-99999999999999999999"),
]
HOSTILE_API = [
    ("/verify/JS%00", 404), ("/ratings/JS%00", 404), ("/ratings/JS%00/certificate.pdf", 404),
    ("/ratings?q=%00", 200), ("/guide-editions/js-2024%00", 404),
    ("/reviews/queue?level=250919205700", 422), ("/reviews/queue?overdue=maybe", 422),
]


def test_hostile_lookups_on_pages_and_in_the_api(app, api, world, subtests):
    for who, path in HOSTILE_PAGES:
        with subtests.test(who=who, path=path):
            client = logged_in(app, world.emails[who]) if who else app.test_client()
            assert client.get(path).status_code in (200, 404)
    for path, status in HOSTILE_API:
        with subtests.test(path=path):
            response = api.get(path, token=world.tokens["official"])
            assert response.status_code == status, response.get_json()


def test_nul_in_an_email_is_no_account(app, api, world):
    assert api.post("/tokens", {"email": "a\x00b@example.com", "password": PASSWORD}).status_code == 401
    client = app.test_client()
    token = csrf_token(client.get("/login").text)
    login = client.post("/login", data={"csrf_token": token, "email": "a\x00b", "password": "x"})
    assert login.status_code == 401
    forgot = client.post("/password/forgot", data={"csrf_token": token, "email": "\x00" * 20})
    assert forgot.status_code == 302       # the same answer as for any address


@pytest.mark.parametrize("raw", [b"[" * 100_000 + b"]" * 100_000,
                                 b'{"a":' * 50_000 + b"1" + b"}" * 50_000], ids=["array", "object"])
def test_json_nested_past_the_parser_is_a_validation_error(api, world, raw):
    # Refused where a body is needed; where it is optional (a withdrawal's comment), ignored.
    withdraw = f"/applications/{world.ids['application_id']}/withdraw"
    for path, status in (("/applications", 422), (withdraw, 200)):
        response = api.client.post(f"/api/v1{path}", data=raw, content_type="application/json",
                                   headers={"Authorization": f"Bearer {world.tokens['firm']}"})
        assert response.status_code == status, response.get_json()


def test_pages_refuse_json_bodies(app, world, subtests):
    client = logged_in(app, world.emails["firm"])
    token = csrf_token(client.get("/login").text)
    for name, raw in (("array", b"[1, 2]"), ("string", b'"text"'), ("deep", b"[" * 100_000 + b"]" * 100_000)):
        with subtests.test(body=name):
            before = fingerprint()
            response = client.post("/applications/new", data=raw, content_type="application/json",
                                   headers={"X-CSRFToken": token})
            assert response.status_code == 415 and "请求内容类型不受支持" in response.text
            assert fingerprint() == before


def test_a_form_part_without_a_name_is_refused(app, world, subtests):
    client = logged_in(app, world.emails["firm"])
    body = b'--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--\r\n'
    for path in ("/login", "/applications/new", "/api/v1/tokens"):
        with subtests.test(path=path):
            response = client.post(path, data=body, content_type="multipart/form-data; boundary=B")
            message = response.get_json()["error"]["message"] if response.is_json else response.text
            assert response.status_code == 422 and "请求格式不正确" in message
