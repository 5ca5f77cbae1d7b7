"""GET /api/v1/openapi.json: a valid OpenAPI 3.1 document of exactly the routes of the `api`
blueprint, whose schemas the live answers of the API match."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select

from rating import clock
from rating.extensions import db
from rating.models import Rating
from rating.rules.uscc import uscc_from_serial
from rating.services.review import scoring_runs
from rating.services.reference import get_edition
from tests.support.factories import PDF_BYTES, good_application, grant_rating, make_batch, make_staff
from tests.support.flows import approved, decide, notice_body, route, scored, upload

pytestmark = pytest.mark.integration

BASE = "urn:rating:openapi"
HTTP_METHODS = {"get", "put", "post", "patch", "delete"}
VARIABLE = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
CONVERTER_TYPES = {None: "string", "string": "string", "path": "string", "int": "integer", "float": "number"}

FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _time_with_offset(value) -> bool:
    # API.md: times are ISO 8601 with an offset.
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


# -- the document's own shape -------------------------------------------------------------

def api_rules(app) -> list:
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.split(".")[0] == "api"]


def doc_path(rule) -> str:
    assert rule.rule.startswith("/api/v1/"), rule.rule
    return VARIABLE.sub(r"{\2}", rule.rule).removeprefix("/api/v1")


def route_operations(app) -> dict[tuple[str, str], str]:
    """(path, method) → endpoint function name, for every route of the blueprint."""
    return {(doc_path(rule), method.lower()): rule.endpoint.removeprefix("api.")
            for rule in api_rules(app) for method in rule.methods - {"HEAD", "OPTIONS"}}


def documented_operations(document) -> dict[tuple[str, str], dict]:
    return {(path, method): operation for path, item in document["paths"].items()
            for method, operation in item.items() if method in HTTP_METHODS}


def escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def resolve(document, node: dict) -> dict:
    """A local `$ref` (e.g. to components/parameters) replaced by its target."""
    while "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def closed(node):
    """A copy in which no object schema with listed `properties` takes others, so that a field
    the code sends but the document does not list fails validation."""
    if isinstance(node, list):
        return [closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: closed(value) for key, value in node.items()}
    open_to_others = {"additionalProperties", "unevaluatedProperties"} & set(node)
    if isinstance(node.get("properties"), dict) and not open_to_others:
        result["additionalProperties"] = False
    return result


class Contract:
    """Checks live requests and responses against the document's schemas."""

    def __init__(self, app, document: dict) -> None:
        self.document = document
        self.registry = Registry().with_resource(BASE, DRAFT202012.create_resource(closed(document)))
        self.urls = app.url_map.bind("localhost")
        self.by_endpoint = {operation["operationId"]: (path, method)
                            for (path, method), operation in documented_operations(document).items()}

    def validate(self, instance, pointer: str) -> None:
        validator = Draft202012Validator({"$ref": f"{BASE}#{pointer}"}, registry=self.registry,
                                         format_checker=FORMATS)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        assert not errors, f"{pointer}:\n" + "\n".join(
            f"  at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:10])

    def request(self, endpoint: str, body) -> None:
        """A JSON body we send is one the document accepts."""
        path, method = self.by_endpoint[endpoint]
        self.validate(body, f"/paths/{escape(path)}/{method}/requestBody/content/application~1json/schema")

    def check(self, response, status: int):
        """The status is the one expected and documented, the body matches its schema; returns the body."""
        assert response.status_code == status, response.get_data(as_text=True)[:2000]
        endpoint, _args = self.urls.match(response.request.path, method=response.request.method)
        path, method = self.by_endpoint[endpoint.removeprefix("api.")]
        pointer = f"/paths/{escape(path)}/{method}/responses/{status}"
        documented = self.document["paths"][path][method]["responses"].get(str(status))
        assert documented is not None, f"{method.upper()} {path} answered {status}, which is not documented"
        if "$ref" in documented:
            pointer = documented["$ref"].removeprefix("#")
            documented = resolve(self.document, documented)
        content = documented.get("content", {})
        assert response.mimetype in content or (not content and not response.data), \
            f"{method.upper()} {path} {status}: {response.mimetype} is not documented"
        if response.mimetype != "application/json":
            return response.data
        body = response.get_json()
        self.validate(body, f"{pointer}/content/application~1json/schema")
        return body


@pytest.fixture()
def document(api):
    response = api.get("/openapi.json")                          # public: no token
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


@pytest.fixture()
def contract(app, document):
    return Contract(app, document)


def test_document_is_valid_openapi_3_1(document):
    validate_openapi(document, cls=OpenAPIV31SpecValidator)
    assert document["openapi"].startswith("3.1.")
    assert document["servers"] == [{"url": "/api/v1"}]
    assert FORMATS.conforms("2025-06-01", "date") and not FORMATS.conforms("2025-13-01", "date")
    assert not FORMATS.conforms("2025-06-01T08:00:00", "date-time")


def test_every_route_is_documented_and_nothing_else(app, document):
    routes, documented = route_operations(app), documented_operations(document)
    assert set(documented) - set(routes) == set(), "documented, but no such route"
    assert set(routes) - set(documented) == set(), "routes missing from rating/openapi.yaml"
    for key, endpoint in routes.items():
        assert documented[key]["operationId"] == endpoint, key


def test_path_parameters_match_route_variables(app, document):
    for rule in api_rules(app):
        item = document["paths"][doc_path(rule)]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            declared = {}
            for parameter in item.get("parameters", []) + item[method.lower()].get("parameters", []):
                parameter = resolve(document, parameter)
                if parameter["in"] == "path":
                    declared[parameter["name"]] = parameter
            variables = {name: converter for converter, name in VARIABLE.findall(rule.rule)}
            assert set(declared) == set(variables), (rule.rule, method)
            for name, converter in variables.items():
                parameter = declared[name]
                assert parameter["required"] is True
                assert parameter["schema"]["type"] == CONVERTER_TYPES[converter or None], (rule.rule, name)


def test_security_is_what_the_routes_enforce(api, document):
    """A route documented with a token refuses a request without one (401); a public one does not."""
    for (path, method), operation in documented_operations(document).items():
        url = re.sub(r"{(\w+)}", lambda m: "999999" if m.group(1).endswith("_id") else "NOPE-0", path)
        response = api.client.open(f"/api/v1{url}", method=method.upper())
        requirements = operation.get("security", document["security"])
        public = not requirements or {} in requirements
        assert (response.status_code == 401) != public, (method, path, response.status_code)


# -- live answers against the document ---------------------------------------------------------

def test_public_answers_match(api, app, contract):
    batch = make_batch("js-2024")
    assert contract.check(api.get("/jurisdictions"), 200)[0]["level"] == "province"
    assert contract.check(api.get("/batches"), 200)[0]["id"] == batch.id
    edition = contract.check(api.get("/guide-editions/js-2024"), 200)
    assert set(edition["levels"]) == {"3", "4", "5"}
    contract.check(api.get("/guide-editions/js-2024", headers={"Accept-Language": "en"}), 200)
    contract.check(api.get("/guide-editions/nope"), 404)
    contract.check(api.get("/certificate-key"), 200)

    valid = uscc_from_serial(4343, division="320402")
    wrong_check = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    registration = {"name": "常州云上智造有限公司", "uscc": wrong_check, "district_code": "320402",
                    "industry": "C", "scale": "small", "contact_name": "王工", "contact_phone": "0519-12345678",
                    "email": "cloud@example.com", "password": "Passw0rd-test"}
    contract.request("register_enterprise", registration)
    bad = contract.check(api.post("/enterprises", registration), 422)     # a wrong check character
    assert "uscc" in bad["error"]["fields"]
    firm, token = api.register_firm("320402")
    contract.check(api.post("/enterprises", {**registration, "uscc": firm["uscc"]}), 409)
    contract.request("create_token", {"email": "nobody@example.com", "password": "wrong"})
    assert contract.check(api.post("/tokens", {"email": "nobody@example.com", "password": "wrong"}),
                          401)["error"]["code"] == "unauthorized"
    contract.check(api.post("/tokens", {"email": 1}), 422)

    grant_rating(firm["id"], 3)
    totals = contract.check(api.get("/totals?group_by=level"), 200)
    assert totals["total"] == 1
    contract.check(api.get("/totals?group_by=county"), 422)
    missing = contract.check(api.get("/verify/JS-2000-1-3-999999"), 404)
    assert missing["error"]["code"] == "not_found" and missing["error"]["fields"] == {}
    contract.check(api.get("/applications", token="not-a-token"), 401)


def test_created_enterprise_matches(api, app, contract):
    body = {"name": "常州测试云科技有限公司", "uscc": uscc_from_serial(4242, division="320411"),
            "district_code": "320411", "industry": "I", "scale": "micro", "contact_name": "李工",
            "contact_phone": "13800000000", "email": "firm-oa@example.com", "password": "Passw0rd-test"}
    contract.request("register_enterprise", body)
    created = contract.check(api.post("/enterprises", body), 201)
    assert created["uscc"] == body["uscc"] and created["district_code"] == "320411"
    token = contract.check(api.post("/tokens", {"email": body["email"], "password": body["password"]}), 201)
    assert token["token"]


def test_filing_answers_match(api, app, contract):
    batch = make_batch("js-2024")
    _firm, token = api.register_firm("320402")
    body = good_application(batch, 3)
    contract.request("create_application", body)
    created = contract.check(api.post("/applications", body, token=token), 201)
    application_id = created["id"]
    url = f"/applications/{application_id}"
    assert created["status"] == "draft" and created["score"] is None
    contract.check(api.post("/applications", body, token=token), 422)              # one per batch
    for indicator in get_edition("js-2024").indicators_for(3):
        if indicator.evidence_required:
            contract.check(upload(api, token, application_id, PDF_BYTES, indicator=indicator.code), 201)
    contract.check(upload(api, token, application_id, b"MZ not a document", name="x.exe"), 422)

    update = {"answers": {}, "cloud_services": body["cloud_services"],
              "version": api.get(url, token=token).get_json()["version"]}
    contract.request("update_application", update)
    contract.check(api.patch(url, update, token=token), 200)
    contract.check(api.patch(url, update, token=token), 409)   # stale version
    contract.check(api.get(url, token=token), 200)
    page = contract.check(api.get("/applications?status=draft", token=token), 200)
    assert [a["id"] for a in page["items"]] == [application_id]
    contract.check(api.get("/applications?status=nope", token=token), 422)
    contract.check(api.get(f"{url}/diff", token=token), 200)

    contract.request("submit_application", {"pledge": True})
    submitted = contract.check(api.post(f"{url}/submit", {"pledge": True}, token=token), 202)
    assert submitted["status"] == "submitted"
    assert scoring_runs.score_application(application_id) == "scored"
    route(application_id)
    scored_body = contract.check(api.get(url, token=token), 200)
    assert scored_body["score"]["passed"] is True and scored_body["stage"] == "county"
    contract.check(api.get(f"{url}/emails", token=token), 200)
    contract.check(api.patch(url, {"answers": {}}, token=token), 409)
    other = api.register_firm("320402")[1]
    contract.check(api.get(url, token=other), 404)
    withdrawn = contract.check(api.post(f"{url}/withdraw", {"comment": "暂不申报"}, token=token), 200)
    assert withdrawn["status"] == "withdrawn"


def test_review_and_expert_answers_match(api, app, contract):
    batch = make_batch("js-2024")
    county, city = make_staff("reviewer", "320402"), make_staff("reviewer", "320400")
    second_city = make_staff("reviewer", "320400")
    official, expert = make_staff("official", "320400"), make_staff("expert", "320400")
    tokens = {user: api.token(user.email) for user in (county, city, second_city, official, expert)}
    application_id, firm = scored(api, batch, 3)
    url = f"/applications/{application_id}"

    queue = contract.check(api.get("/reviews/queue", token=tokens[county]), 200)
    assert [q["application_id"] for q in queue] == [application_id]
    items = api.get(url, token=firm).get_json()["score"]["items"]
    adjustment = {"code": items[0]["code"], "points": items[0]["points"], "reason": "核实无误"}
    decision = {"decision": "forward", "comment": "材料齐全", "version": queue[0]["version"],
                "adjustments": [adjustment]}
    contract.request("decide", decision)
    forwarded = contract.check(api.post(f"{url}/decisions", decision, token=tokens[county]), 201)
    assert forwarded["stage"] == "city"
    route(application_id)
    contract.check(api.post(f"{url}/decisions", decision, token=tokens[county]), 409)

    contract.check(api.get("/reviews/overview", token=tokens[official]), 200)
    contract.check(api.get("/reviews/overview", token=tokens[city]), 403)
    current = routing_reviewer(api, tokens, (city, second_city), application_id)
    other = second_city if current is city else city
    reassignment = {"reviewer_id": other.id, "reason": "工作调整"}
    contract.request("reassign", reassignment)
    contract.check(api.post(f"{url}/assignment", reassignment, token=tokens[official]), 201)

    experts = {"expert_ids": [expert.id]}
    contract.request("assign_experts", experts)
    assigned = contract.check(api.post(f"{url}/experts", experts, token=tokens[official]), 201)
    assert assigned["experts"] == [expert.id]
    scores = {"scores": [{"code": i["code"], "points": i["points"]} for i in items], "comment": "同意"}
    contract.request("submit_expert_scores", scores)
    contract.check(api.post(f"{url}/expert-scores", scores, token=tokens[expert]), 201)
    contract.check(api.post(f"{url}/expert-scores", scores, token=tokens[expert]), 409)
    review = contract.check(api.get(f"{url}/expert-review", token=tokens[official]), 200)
    assert (review["assigned"], review["submitted"]) == (1, 1)

    conflict = {"provider_name": "某云服务商", "note": "曾任该公司顾问"}
    contract.request("declare_conflict", conflict)
    conflict_id = contract.check(api.post("/reviewer-conflicts", conflict, token=tokens[county]), 201)["id"]
    contract.check(api.post("/reviewer-conflicts", {}, token=tokens[county]), 422)
    assert [c["id"] for c in contract.check(api.get("/reviewer-conflicts", token=tokens[official]), 200)] == [
        conflict_id]
    contract.check(api.delete(f"/reviewer-conflicts/{conflict_id}", token=tokens[official]), 403)
    contract.check(api.delete(f"/reviewer-conflicts/{conflict_id}", token=tokens[county]), 204)
    contract.check(api.delete(f"/reviewer-conflicts/{conflict_id}", token=tokens[county]), 404)

    approved_body = contract.check(decide(api, tokens[other], application_id, "approve", "同意"), 201)
    assert approved_body["status"] == "approved" and approved_body["stage"] is None
    contract.check(decide(api, tokens[other], application_id, "approve", version=1), 409)
    contract.check(api.get(url, token=tokens[official]), 200)


def routing_reviewer(api, tokens, reviewers, application_id):
    """Which of `reviewers` the router gave the application to."""
    for user in reviewers:
        queue = api.get("/reviews/queue", token=tokens[user]).get_json()
        if application_id in [q["application_id"] for q in queue]:
            return user
    raise AssertionError("the application is in nobody's queue")


def test_resubmission_diff_matches(api, app, contract):
    batch = make_batch("js-2024")
    county = api.token(make_staff("reviewer", "320402").email)
    application_id, firm = scored(api, batch, 3)
    url = f"/applications/{application_id}"
    contract.check(decide(api, county, application_id, "return", "请补充设备清单"), 201)
    body = api.get(url, token=firm).get_json()
    added = {"provider": "阿里云", "service_name": "工业APP", "category": "industrial_app", "deployment": "public",
             "started_on": "2024-01-01", "ended_on": None,
             "payments": [{"paid_on": "2024-02-01", "amount": 1200.5}]}
    services = body["cloud_services"] + [added]
    contract.check(api.patch(url, {"cloud_services": services}, token=firm), 200)
    contract.check(upload(api, firm, application_id, PDF_BYTES + b"v2", name="设备清单.pdf"), 201)
    contract.check(api.post(f"{url}/submit", {"pledge": True}, token=firm), 202)
    diff = contract.check(api.get(f"{url}/diff", token=county), 200)
    assert diff["from_round"] == 1
    assert (len(diff["services"]["added"]), len(diff["evidence"]["added"])) == (1, 1)


def test_publicity_and_rating_answers_match(api, app, contract):
    batch = make_batch("js-2024")
    people = {name: api.token(make_staff(role, code).email) for name, role, code in [
        ("county", "reviewer", "320402"), ("city", "reviewer", "320400"), ("province", "reviewer", "320000"),
        ("city_official", "official", "320400"), ("other_official", "official", "320100")]}
    official = people["city_official"]
    ids = [approved(api, batch, people)[0] for _ in range(2)]

    notice = notice_body(ids)
    contract.request("create_notice", notice)
    notice_id = contract.check(api.post("/publicity-notices", notice, token=official), 201)["id"]
    contract.check(api.post("/publicity-notices", notice, token=official), 409)
    public = contract.check(api.get(f"/publicity-notices/{notice_id}"), 200)
    assert "objections" not in public
    objection = {"application_id": ids[1], "name": "张三", "contact": "13900000000", "reason": "该企业未实际使用云服务。"}
    contract.request("object_to_notice", objection)
    objections = f"/publicity-notices/{notice_id}/objections"
    objection_id = contract.check(api.post(objections, objection), 201)["id"]
    managed = contract.check(api.get(f"/publicity-notices/{notice_id}", token=official), 200)
    assert [o["id"] for o in managed["objections"]] == [objection_id]
    contract.check(api.get("/publicity-notices/999999"), 404)
    closed_notice = contract.check(api.post(f"/publicity-notices/{notice_id}/close", token=official), 200)
    assert closed_notice == {"rated": [ids[0]], "held": [ids[1]]}
    resolution = {"outcome": "dismiss", "comment": "经核实异议不成立"}
    contract.request("resolve_objection", resolution)
    contract.check(api.post(f"{objections}/{objection_id}/resolve", resolution, token=official), 200)

    number = db.session.scalar(select(Rating.certificate_no).where(Rating.application_id == ids[0]))
    listing = contract.check(api.get("/ratings", token=official), 200)
    assert number in [r["certificate_no"] for r in listing["items"]]
    contract.check(api.get("/ratings?level=x", token=official), 422)
    contract.check(api.get(f"/ratings/{number}", token=official), 200)
    contract.check(api.get(f"/ratings/{number}", token=people["other_official"]), 404)
    contract.check(api.get(f"/verify/{number}"), 200)
    contract.check(api.get(f"/ratings/{number}/certificate.pdf", token=official), 409)   # no worker here
    contract.check(api.post(f"/ratings/{number}/certificate", token=official), 202)
    paid = {"state": "paid", "disbursed_on": clock.today().isoformat(), "note": "已拨付"}
    contract.request("update_disbursement", paid)
    assert contract.check(api.post(f"/ratings/{number}/disbursement", paid, token=official),
                          200)["disbursement"] == "paid"
    revoke = {"reason": "材料造假", "blacklist_enterprise": True}
    contract.request("revoke_rating", revoke)
    contract.check(api.post(f"/ratings/{number}/revoke", revoke, token=official), 200)
    contract.check(api.post(f"/ratings/{number}/revoke", revoke, token=official), 409)
    assert contract.check(api.get(f"/verify/{number}"), 200)["status"] == "revoked"

    audit_page = contract.check(api.get("/audit?action=rating.revoke", token=official), 200)
    assert audit_page["items"] and audit_page["verified_through"] >= audit_page["items"][0]["seq"]
    contract.check(api.get("/audit?since=x", token=official), 422)
    contract.check(api.get("/audit", token=people["city"]), 403)
    contract.check(api.get("/providers?q=云", token=official), 200)
    contract.check(api.get("/providers"), 401)
    contract.check(api.get("/blacklist", token=official), 200)
    entry = {"provider_name": "某违规云服务商", "reason": "虚开发票"}
    contract.request("add_to_blacklist", entry)
    entry_id = contract.check(api.post("/blacklist", entry, token=official), 201)["id"]
    contract.check(api.post(f"/blacklist/{entry_id}/lift", {"reason": "已整改"}, token=official), 200)
    quota = {"batch_id": batch.id, "district_code": "320402", "level": 3, "percent": 10, "base_count": 200}
    contract.request("set_quota", quota)
    assert contract.check(api.post("/batch-quotas", quota, token=official), 201)["cap"] == 20
    contract.check(api.post("/batch-quotas", {**quota, "max_count": 5}, token=official), 422)

    csv_file = contract.check(api.get("/exports/ratings.csv?level=3", token=official), 200)
    assert csv_file.startswith("\ufeff".encode())
    contract.check(api.get("/exports/ratings.xlsx", token=official), 200)
    contract.check(api.get("/exports/ratings.csv", token=people["city"]), 403)
    contract.check(api.get("/totals", query_string={"on": clock.today().isoformat()}), 200)


def test_openapi_document_is_served_from_memory(api, app, contract):
    from rating.views.api import openapi

    first = api.get("/openapi.json")
    assert openapi.document.cache_info().currsize == 1
    assert api.get("/openapi.json").data == first.data
    contract.check(first, 200)


def test_account_management_answers_match(api, app, contract):
    admin = api.token(make_staff("admin", None).email)
    official = api.token(make_staff("official", "320400").email)
    invite = {"email": "oa-staff@bureau.example", "name": "审核员", "role": "reviewer", "jurisdiction_code": "320402"}
    contract.request("invite_staff", invite)
    created = contract.check(api.post("/staff", invite, token=official), 201)
    contract.check(api.post("/staff", invite, token=official), 409)
    contract.check(api.post("/staff", {**invite, "role": "admin"}, token=official), 403)
    contract.check(api.post("/staff", {**invite, "role": "boss"}, token=official), 422)
    listed = contract.check(api.get("/staff?active=true&page=1", token=admin), 200)
    assert listed["total"] == 3
    contract.request("update_staff", {"active": False, "name": "审核员甲"})
    contract.check(api.patch(f"/staff/{created['id']}", {"active": False, "name": "审核员甲"}, token=official), 200)
    contract.check(api.patch("/staff/999999", {"name": "x"}, token=official), 404)

    firm, owner = api.register_firm("320402")
    users = contract.check(api.get("/enterprise/users", token=owner), 200)
    contract.request("invite_firm_user", {"email": "oa-colleague@example.com", "name": "同事"})
    contract.check(api.post("/enterprise/users", {"email": "oa-colleague@example.com", "name": "同事"},
                            token=owner), 201)
    contract.check(api.get("/enterprise/users", token=official), 403)
    contract.request("update_firm_user", {"is_admin": False})
    contract.check(api.patch(f"/enterprise/users/{users[0]['id']}", {"is_admin": False}, token=owner), 409)
    contract.request("update_me", {"name": "王工", "phone": "0519-12345678", "locale": "en"})
    contract.check(api.patch("/me", {"name": "王工", "phone": "0519-12345678", "locale": "en"}, token=owner), 200)
    contract.check(api.patch("/me", {"locale": "fr"}, token=owner), 422)


def test_batch_management_answers_match(api, app, contract):
    province = api.token(make_staff("official", "320000").email)
    city = api.token(make_staff("official", "320400").email)
    today = clock.today()
    terms = {"name": "第二批", "guide_edition": "js-2024", "opens_at": "2026-01-05T09:00:00+08:00",
             "closes_at": "2026-12-31T17:30:00+08:00", "usage_cutoff": today.isoformat(),
             "investment_from": f"{today.year - 1}-01-01", "investment_to": today.isoformat(),
             "review_days": {"county": 10, "city": 20, "province": 30}, "levels": [3, 4]}
    contract.request("create_batch", terms)
    created = contract.check(api.post("/batches", terms, token=province), 201)
    contract.check(api.post("/batches", terms, token=city), 403)
    contract.check(api.post("/batches", {**terms, "levels": [9]}, token=province), 422)
    contract.check(api.get("/batches"), 200)
    contract.request("update_batch", {"closes_at": "2027-01-31T17:30:00+08:00"})
    contract.check(api.patch(f"/batches/{created['id']}", {"closes_at": "2027-01-31T17:30:00+08:00"},
                             token=province), 200)
    contract.check(api.patch("/batches/999999", {"name": "x"}, token=province), 404)
    contract.request("set_city_deadline", {"closes_at": "2026-12-20T17:30:00+08:00"})
    contract.check(api.put(f"/batches/{created['id']}/city-deadlines/320400",
                           {"closes_at": "2026-12-20T17:30:00+08:00"}, token=city), 200)
    contract.check(api.put(f"/batches/{created['id']}/city-deadlines/320400",
                           {"closes_at": "2028-12-20T17:30:00+08:00"}, token=city), 422)
    contract.check(api.put(f"/batches/{created['id']}/city-deadlines/320100",
                           {"closes_at": "2026-12-20T17:30:00+08:00"}, token=city), 403)


def test_guide_edition_and_quota_answers_match(api, app, contract, batch):
    admin = api.token(make_staff("admin", None).email)
    official = api.token(make_staff("official", "320400").email)
    contract.check(api.get("/guide-editions"), 200)
    contract.check(api.client.get("/api/v1/guide-editions/js-2024/source"), 200)
    contract.check(api.client.get("/api/v1/guide-editions/nope/source"), 404)
    source = api.client.get("/api/v1/guide-editions/js-2024/source").get_data()
    headers = {"Authorization": f"Bearer {admin}", "Content-Type": "text/yaml"}
    contract.check(api.client.post("/api/v1/guide-editions", data=source, headers=headers), 409)
    contract.check(api.client.post("/api/v1/guide-editions", data=b"code: [", headers=headers), 422)
    contract.check(api.client.post("/api/v1/guide-editions", data=source,
                                   headers={**headers, "Authorization": f"Bearer {official}"}), 403)
    quota = {"batch_id": batch.id, "district_code": "320402", "level": 3, "percent": 10, "base_source": "firms"}
    contract.request("set_quota", quota)
    contract.check(api.post("/batch-quotas", quota, token=official), 201)
    contract.check(api.get(f"/batch-quotas?batch_id={batch.id}", token=official), 200)
    contract.check(api.get("/batch-quotas?batch_id=x", token=official), 422)
