"""The rest of the access matrix: applications, lists, exports, totals and the officials'
pages, every role and scope (other firms, other counties and cities, unassigned experts),
and a check that every API route is in some matrix, so a new route cannot go unclassified."""
from __future__ import annotations

import pytest

from tests.support.access import CALLERS, expect, rated

pytestmark = pytest.mark.integration

IN_SCOPE_STAFF = ("county_reviewer", "city_reviewer", "province_reviewer", "county_official", "city_official",
                  "province_official", "admin")
OUTSIDERS = {"other_firm": 404, "other_county_reviewer": 404, "other_city_reviewer": 404,
             "other_city_official": 404, "expert": 404, "anonymous": 401}   # the expert is not assigned


@pytest.mark.parametrize("path", ["", "/diff", "/emails"])
@pytest.mark.parametrize("caller, status", expect(OUTSIDERS, 200))
def test_read_an_application(api, access_world, caller, status, path):
    response = api.get(f"/applications/{access_world['application_id']}{path}", token=access_world["tokens"][caller])
    assert response.status_code == status, (path, response.get_json())


@pytest.mark.parametrize("caller, status", expect({**OUTSIDERS, "firm": 403, "other_firm": 403}, 200))
def test_read_the_expert_review(api, access_world, caller, status):
    response = api.get(f"/applications/{access_world['application_id']}/expert-review", token=access_world["tokens"][caller])
    assert response.status_code == status


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "firm": 409, "other_firm": 404}, 403))     # the firm's own is in review: not editable
@pytest.mark.parametrize("action", ["patch", "withdraw", "evidence", "submit"])
def test_change_an_application(api, access_world, caller, status, action):
    from tests.support.factories import PDF_BYTES

    token, path = access_world["tokens"][caller], f"/applications/{access_world['application_id']}"
    if action == "patch":
        response = api.patch(path, {"answers": {}}, token=token)
    elif action == "withdraw":
        response = api.post(f"{path}/withdraw", token=token)
    elif action == "submit":
        response = api.post(f"{path}/submit", {"pledge": True}, token=token)
    else:
        import io

        response = api.client.post(f"/api/v1{path}/evidence", data={"file": (io.BytesIO(PDF_BYTES), "a.pdf")},
                                   headers={"Authorization": f"Bearer {token}"} if token else {},
                                   content_type="multipart/form-data")
    if caller == "firm" and action == "withdraw":
        status = 200                # a firm may withdraw while its application is in review
    assert response.status_code == status, (action, response.get_json())


@pytest.mark.parametrize("path", ["/applications", "/ratings"])
@pytest.mark.parametrize("caller", CALLERS)
def test_lists_hold_only_what_the_caller_may_see(api, access_world, caller, path):
    rated(api, access_world)
    response = api.get(path, token=access_world["tokens"][caller])
    if caller == "anonymous":
        assert response.status_code == 401
        return
    visible = caller in ("firm", *IN_SCOPE_STAFF) or (caller == "expert" and path == "/ratings")
    assert response.status_code == 200 and response.get_json()["total"] == (1 if visible else 0), caller


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "county_official": 200, "city_official": 200, "other_city_official": 200,
     "province_official": 200, "admin": 200}, 403))
def test_exports_are_for_officials_in_scope(api, access_world, caller, status, fmt):
    number = rated(api, access_world)
    response = api.get(f"/exports/ratings.{fmt}", token=access_world["tokens"][caller])
    assert response.status_code == status
    if status == 200 and fmt == "csv":
        assert (number in response.data.decode("utf-8-sig")) == (caller != "other_city_official")


@pytest.mark.parametrize("caller", CALLERS)
def test_reference_data_and_totals_are_public(api, access_world, caller):
    token = access_world["tokens"][caller]
    for path in ("/jurisdictions", "/batches", "/guide-editions/js-2024", "/totals?group_by=city",
                 "/certificate-key", "/openapi.json"):
        assert api.get(path, token=token).status_code == 200, path


def _page_client(app, access_world, caller):
    from tests.support.people import csrf_token
    from tests.support.factories import PASSWORD

    client = app.test_client()
    if caller == "anonymous":
        return client
    if caller in ("firm", "other_firm"):
        from sqlalchemy import select

        from rating.extensions import db
        from rating.models import ApiToken, User
        from rating.services.accounts.signin import _token_digest

        email = db.session.execute(select(User.email).join(ApiToken, ApiToken.user_id == User.id)
                                   .where(ApiToken.token_hash == _token_digest(access_world["tokens"][caller]))
                                   ).scalar_one()
    else:
        email = access_world["staff"][caller].email
    page = client.get("/login")
    client.post("/login", data={"csrf_token": csrf_token(page.text), "email": email, "password": PASSWORD})
    return client


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 302, "firm": 200, "other_firm": 404, "other_county_reviewer": 404, "other_city_reviewer": 404,
     "other_city_official": 404, "expert": 404}, 200))
def test_application_page(app, api, access_world, caller, status):
    response = _page_client(app, access_world, caller).get(f"/applications/{access_world['application_id']}")
    assert response.status_code == status


@pytest.mark.parametrize("path", ["/dashboard", "/ratings/import", "/audit/", "/providers/"])
@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 302, "county_official": 200, "city_official": 200, "other_city_official": 200,
     "province_official": 200, "admin": 200}, 403))
def test_officials_pages(app, api, access_world, caller, status, path):
    assert _page_client(app, access_world, caller).get(path).status_code == status


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 302, "firm": 200, "other_firm": 404, "other_city_official": 404, "expert": 403,
     "other_county_reviewer": 403, "other_city_reviewer": 403, "county_reviewer": 403, "city_reviewer": 403,
     "province_reviewer": 403}, 200))
def test_rating_page(app, api, access_world, caller, status):
    number = rated(api, access_world)
    assert _page_client(app, access_world, caller).get(f"/ratings/{number}").status_code == status


def test_every_api_route_is_in_a_matrix(app):
    """Adding an API route means deciding who may call it, here or in test_access_matrix."""
    covered = {
        # test_access_matrix.py
        "review_queue", "decide", "create_notice", "close_notice", "show_notice", "object_to_notice", "reassign",
        "add_to_blacklist", "review_overview", "show_rating", "download_certificate", "regenerate_certificate",
        "update_disbursement", "revoke_rating", "verify",
        # this file
        "get_application", "submission_diff", "application_emails", "expert_review", "update_application",
        "withdraw_application", "upload_evidence", "submit_application", "list_applications", "list_ratings",
        "export_csv", "export_xlsx", "jurisdictions", "batches", "guide_edition", "get_totals", "certificate_key",
        "openapi_document",
        # elsewhere, each with its own role tests
        "create_token", "register_enterprise", "create_application",          # test_accounts_api, test_filing_api
        "assign_experts", "submit_expert_scores",                              # test_experts_and_diff
        "set_quota", "list_blacklist", "lift_blacklist", "declare_conflict",  # test_officials_api
        "resolve_objection",                                                   # test_publicity_api
        "list_claims", "approve_claim", "reject_claim",                        # test_enterprise_claims
        "list_tokens", "revoke_current_token", "revoke_token", "change_password",  # test_sessions_and_tokens
        "sign_out_user",
        "list_staff", "invite_staff", "update_staff", "list_firm_users", "invite_firm_user",  # this file
        "update_firm_user", "update_me",
        "audit_entries", "list_conflicts", "withdraw_conflict", "list_providers",  # test_access_matrix_programme
        "create_batch", "update_batch", "set_city_deadline",                  # test_access_matrix_batches
        "guide_editions_list", "guide_edition_source", "upload_guide_edition",  # test_access_matrix_programme
        "list_quotas",
    }
    routes = {rule.endpoint.removeprefix("api.") for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.")}
    assert routes == covered, (sorted(routes - covered), sorted(covered - routes))


# Accounts (issue 28): officials manage the staff of their scope, a firm's administrator its users.
STAFF_MANAGERS = {"county_official": 200, "city_official": 200, "province_official": 200, "admin": 200,
                  "other_city_official": 200, "anonymous": 401}


@pytest.mark.parametrize("caller, status", expect(STAFF_MANAGERS, 403))
def test_list_staff(api, access_world, caller, status):
    response = api.get("/staff", token=access_world["tokens"][caller])
    assert response.status_code == status
    if status == 200 and caller == "other_city_official":     # sees only its own city's staff
        assert {item["jurisdiction_code"][:4] for item in response.get_json()["items"]} == {"3201"}


@pytest.mark.parametrize("caller, status", expect(
    {"county_official": 201, "city_official": 201, "province_official": 201, "admin": 201, "anonymous": 401}, 403))
def test_invite_staff(api, access_world, caller, status):
    body = {"email": "invited@bureau.example", "name": "新人", "role": "reviewer", "jurisdiction_code": "320402"}
    assert api.post("/staff", body, token=access_world["tokens"][caller]).status_code == status


@pytest.mark.parametrize("caller, status", expect(
    {"county_official": 200, "city_official": 200, "province_official": 200, "admin": 200,
     "other_city_official": 404, "anonymous": 401}, 403))
def test_update_staff(api, access_world, caller, status):
    reviewer = access_world["staff"]["county_reviewer"]
    response = api.patch(f"/staff/{reviewer.id}", {"name": "改名"}, token=access_world["tokens"][caller])
    assert response.status_code == status


@pytest.mark.parametrize("caller, status", expect({"firm": 200, "other_firm": 200, "anonymous": 401}, 403))
def test_list_firm_users(api, access_world, caller, status):
    assert api.get("/enterprise/users", token=access_world["tokens"][caller]).status_code == status


@pytest.mark.parametrize("caller, status", expect({"firm": 201, "other_firm": 201, "anonymous": 401}, 403))
def test_invite_firm_user(api, access_world, caller, status):
    body = {"email": "colleague@example.com", "name": "同事"}
    assert api.post("/enterprise/users", body, token=access_world["tokens"][caller]).status_code == status


@pytest.mark.parametrize("caller, status", expect({"firm": 200, "other_firm": 404, "anonymous": 401}, 403))
def test_update_firm_user(api, access_world, caller, status):
    own = api.get("/enterprise/users", token=access_world["tokens"]["firm"]).get_json()[0]["id"]
    response = api.patch(f"/enterprise/users/{own}", {"is_admin": True}, token=access_world["tokens"][caller])
    assert response.status_code == status


@pytest.mark.parametrize("caller, status", expect({"anonymous": 401}, 200))
def test_update_me(api, access_world, caller, status):
    assert api.patch("/me", {"phone": "0519-12345678"}, token=access_world["tokens"][caller]).status_code == status
