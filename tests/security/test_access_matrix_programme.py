"""The access matrix of the programme's endpoints (issue 28): the audit log, reviewers' conflicts
and the providers, for every role and scope of tests/support/access.py."""
from __future__ import annotations

import pytest

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
