"""The access matrix of the programme's endpoints (issue 28): the audit log, reviewers' conflicts
and the providers, for every role and scope of tests/support/access.py."""
from __future__ import annotations

import pytest

from rating.services.reference import GUIDES_DIR
from tests.support.access import expect

pytestmark = pytest.mark.integration

OFFICIALS_OK = {"county_official": 200, "city_official": 200, "other_city_official": 200,
                "province_official": 200, "admin": 200, "anonymous": 401}


@pytest.mark.parametrize("caller, status", expect(OFFICIALS_OK, 403))
def test_audit_entries(api, access_world, caller, status):
    response = api.get("/audit", token=access_world["tokens"][caller])
    assert response.status_code == status
    if caller == "other_city_official":     # the firm of the world is in 常州, not 南京
        firm_entries = [i for i in response.get_json()["items"] if i["object_type"] in ("application", "enterprise")]
        assert firm_entries == []


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "firm": 403, "other_firm": 403}, 200))
def test_list_conflicts(api, access_world, caller, status):
    declared = api.post("/reviewer-conflicts", {"group_name": "某集团"},
                        token=access_world["tokens"]["county_reviewer"]).get_json()["id"]
    response = api.get("/reviewer-conflicts", token=access_world["tokens"][caller])
    assert response.status_code == status
    if status == 200:   # the reviewer's own; officials: the staff of their scope (天宁区 is in 常州)
        sees = caller in ("county_reviewer", "county_official", "city_official", "province_official", "admin")
        assert [c["id"] for c in response.get_json()] == ([declared] if sees else [])


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "firm": 403, "other_firm": 403, "county_official": 403, "city_official": 403,
     "other_city_official": 403, "province_official": 403, "admin": 403, "county_reviewer": 204}, 404))
def test_withdraw_conflict(api, access_world, caller, status):
    declared = api.post("/reviewer-conflicts", {"group_name": "某集团"},
                        token=access_world["tokens"]["county_reviewer"]).get_json()["id"]
    assert api.delete(f"/reviewer-conflicts/{declared}", token=access_world["tokens"][caller]).status_code == status


@pytest.mark.parametrize("path", ["/guide-editions", "/guide-editions/js-2024/source"])
@pytest.mark.parametrize("caller, status", expect({}, 200))
def test_guide_editions_are_public_reference_data(api, access_world, caller, status, path):
    assert api.client.get(f"/api/v1{path}", headers=({"Authorization": f"Bearer {access_world['tokens'][caller]}"}
                                                    if access_world["tokens"][caller] else {})).status_code == status


@pytest.mark.parametrize("caller, status", expect({"admin": 409, "anonymous": 401}, 403))
def test_only_admins_upload_guide_editions(api, access_world, caller, status):
    """The shipped js-2024 again: an admin gets as far as the conflict, everyone else not."""
    token = access_world["tokens"][caller]
    headers = {"Content-Type": "text/yaml", **({"Authorization": f"Bearer {token}"} if token else {})}
    response = api.client.post("/api/v1/guide-editions", data=(GUIDES_DIR / "js-2024.yaml").read_bytes(),
                               headers=headers)
    assert response.status_code == status


@pytest.mark.parametrize("caller, status", expect(OFFICIALS_OK, 403))
def test_batch_quotas_read_in_scope(api, access_world, caller, status):
    batch_id = access_world["batch"].id
    set_by = access_world["tokens"]["city_official"]
    assert api.post("/batch-quotas", {"batch_id": batch_id, "district_code": "320402", "level": 3,
                                      "max_count": 4}, token=set_by).status_code == 201
    response = api.get(f"/batch-quotas?batch_id={batch_id}", token=access_world["tokens"][caller])
    assert response.status_code == status
    if status == 200:
        in_scope = caller not in ("other_city_official",)
        assert [r["district_code"] for r in response.get_json()] == (["320402"] if in_scope else [])


@pytest.mark.parametrize("caller, status", expect({"anonymous": 401}, 200))
def test_list_providers(api, access_world, caller, status):
    assert api.get("/providers", token=access_world["tokens"][caller]).status_code == status
