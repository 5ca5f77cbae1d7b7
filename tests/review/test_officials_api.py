"""Officials' rules on PostgreSQL: approval quotas and the blacklist."""
from __future__ import annotations

import pytest

from tests.support.factories import make_staff
from tests.support.flows import decide, file_everything, scored

pytestmark = pytest.mark.integration


@pytest.fixture()
def quota_people(api, app):
    users = {name: make_staff(role, code) for name, role, code in [
        ("county", "reviewer", "320402"), ("city", "reviewer", "320400"),
        ("official", "official", "320400"), ("county_official", "official", "320402"),
        ("other_official", "official", "320100"),
    ]}
    return {name: api.token(user.email) for name, user in users.items()}


def at_city(api, batch, quota_people) -> int:
    application_id, _ = scored(api, batch, 3)
    assert decide(api, quota_people["county"], application_id, "forward").status_code == 201
    return application_id


def test_count_quota_refuses_beyond_the_cap(api, batch, quota_people):
    body = {"batch_id": batch.id, "district_code": "320402", "level": 3, "max_count": 1}
    assert api.post("/batch-quotas", body, token=quota_people["other_official"]).status_code == 404
    assert api.post("/batch-quotas", {**body, "district_code": "320400"}, token=quota_people["official"]).status_code == 422
    assert api.post("/batch-quotas", {**body, "percent": 3}, token=quota_people["official"]).status_code == 422
    created = api.post("/batch-quotas", body, token=quota_people["official"])
    assert created.status_code == 201 and created.get_json()["cap"] == 1
    first, second = at_city(api, batch, quota_people), at_city(api, batch, quota_people)
    assert decide(api, quota_people["city"], first, "approve").status_code == 201
    refused = decide(api, quota_people["city"], second, "approve")
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "ineligible"
    message = refused.get_json()["error"]["message"]
    assert "已通过 1 家" in message and "名额上限 1 家" in message and "天宁区" in message
    assert api.get(f"/applications/{second}", token=quota_people["official"]).get_json()["status"] == "in_review"
    assert decide(api, quota_people["city"], second, "reject", "名额已满").status_code == 201   # other decisions still work


def test_percentage_quota(api, batch, quota_people):
    # Jinan: 3★ at most 3% of the county's cloud-adopting firms; base 70 → 2 places.
    created = api.post("/batch-quotas", {"batch_id": batch.id, "district_code": "320402", "level": 3,
                                         "percent": 3, "base_count": 70}, token=quota_people["official"])
    assert created.get_json()["cap"] == 2
    ids = [at_city(api, batch, quota_people) for _ in range(3)]
    assert [decide(api, quota_people["city"], i, "approve").status_code for i in ids] == [201, 201, 422]
    message = decide(api, quota_people["city"], ids[2], "approve").get_json()["error"]["message"]
    assert "基数 70 家的 3%" in message and "即 2 家" in message


def test_blacklisted_firm_cannot_apply_and_open_work_is_flagged(api, batch, quota_people):
    firm, token = api.register_firm("320402")
    body = file_everything(api, token, batch, 3)
    added = api.post("/blacklist", {"enterprise_id": firm["id"], "reason": "伪造上云合同"}, token=quota_people["official"])
    assert added.status_code == 201 and added.get_json()["flagged_applications"] == [body["id"]]
    assert api.post("/blacklist", {"enterprise_id": firm["id"], "reason": "x"},
                    token=quota_people["official"]).status_code == 409
    assert api.post("/blacklist", {"enterprise_id": firm["id"], "reason": "x"},
                    token=quota_people["other_official"]).status_code == 404
    detail = api.get(f"/applications/{body['id']}", token=quota_people["official"]).get_json()
    assert detail["alerts"][0]["code"] == "blacklisted_enterprise" and "伪造上云合同" in detail["alerts"][0]["message"]
    refused = api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token)
    assert refused.status_code == 422 and "黑名单" in refused.get_json()["error"]["message"]

    lifted = api.post(f"/blacklist/{added.get_json()['id']}/lift", {"reason": "复核后撤销"}, token=quota_people["official"])
    assert lifted.status_code == 200 and lifted.get_json()["lifted_at"]
    assert api.get("/blacklist", token=quota_people["official"]).get_json() == []
    assert api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token).status_code == 202


def test_blacklisted_provider(api, batch, quota_people):
    application_id = at_city(api, batch, quota_people)
    added = api.post("/blacklist", {"provider_name": "徐工汉云", "reason": "协助企业虚报设备上云数据"},
                     token=quota_people["official"])
    assert added.status_code == 201 and application_id in added.get_json()["flagged_applications"]
    alerts = api.get(f"/applications/{application_id}", token=quota_people["official"]).get_json()["alerts"]
    assert [a["code"] for a in alerts] == ["blacklisted_provider"]
    _firm, token = api.register_firm("320402")
    body = file_everything(api, token, batch, 3)        # declares the same provider
    refused = api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token)
    assert refused.status_code == 422 and "徐工汉云" in refused.get_json()["error"]["message"]
    both = api.post("/blacklist", {"provider_name": "x", "enterprise_id": 1, "reason": "x"}, token=quota_people["official"])
    assert both.status_code == 422
    assert api.post("/blacklist", {"provider_name": "x", "reason": "x"}, token=quota_people["county"]).status_code == 403
