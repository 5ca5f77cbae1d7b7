"""Who may do what on the review and publicity endpoints: every role and scope, each cell asserted.

An application of a firm in 天宁区 (320402, 常州市 320400). "other_*" are the same role
in another county (320411) or city (320100). A cell that differs from the table fails.
"""
from __future__ import annotations

import pytest

from rating import clock
from tests.support.access import CALLERS, approved, expect, notice, rated
from tests.support.factories import make_staff
from tests.support.flows import decide

pytestmark = pytest.mark.integration

@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "firm": 403, "other_firm": 403}, 200))
def test_queue(api, access_world, caller, status):
    assert api.get("/reviews/queue", token=access_world["tokens"][caller]).status_code == status


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "firm": 403, "other_firm": 403, "county_reviewer": 201, "expert": 404,
     "other_county_reviewer": 404, "other_city_reviewer": 404, "other_city_official": 404}, 403))
def test_decide_at_the_county_stage(api, access_world, caller, status):
    response = decide(api, access_world["tokens"][caller], access_world["application_id"], "return", "请补充材料",
                      version=api.get(f"/applications/{access_world['application_id']}",
                                      token=access_world["tokens"]["firm"]).get_json()["version"])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "firm": 403, "other_firm": 403, "county_reviewer": 403, "other_county_reviewer": 403,
     "city_reviewer": 403, "other_city_reviewer": 403, "province_reviewer": 403, "expert": 403,
     "county_official": 403, "city_official": 201, "other_city_official": 404, "province_official": 403,
     "admin": 201}, 0))
def test_create_notice(api, access_world, caller, status):
    application_id = approved(api, access_world)
    today = clock.today().isoformat()
    response = api.post("/publicity-notices", {"title": "公示", "application_ids": [application_id],
                                               "starts_on": today, "ends_on": today},
                        token=access_world["tokens"][caller])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "firm": 403, "other_firm": 403, "county_reviewer": 403, "other_county_reviewer": 403,
     "city_reviewer": 403, "other_city_reviewer": 403, "province_reviewer": 403, "expert": 403,
     "county_official": 404, "other_city_official": 404}, 200))
def test_close_notice(api, access_world, caller, status):
    notice_id = notice(api, access_world)
    response = api.post(f"/publicity-notices/{notice_id}/close", token=access_world["tokens"][caller])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller", CALLERS)
def test_notices_and_objections_are_public(api, access_world, caller):
    notice_id = notice(api, access_world)
    token = access_world["tokens"][caller]
    body = api.get(f"/publicity-notices/{notice_id}", token=token).get_json()
    assert [e["application_id"] for e in body["entries"]] == [access_world["application_id"]]
    # Only those who manage the notice see the objectors' names and contacts.
    assert ("objections" in body) == (caller in ("city_official", "province_official", "admin"))
    objection = {"application_id": access_world["application_id"], "name": "李四", "contact": "li@example.com",
                 "reason": "该企业上云数据与实际不符。"}
    assert api.post(f"/publicity-notices/{notice_id}/objections", objection, token=token).status_code == 201


@pytest.mark.parametrize("caller, status", expect(
    {"county_official": 201, "city_official": 201, "province_official": 201, "admin": 201,
     "other_city_official": 404, "anonymous": 401}, 403))
def test_reassign(api, access_world, caller, status):
    second = make_staff("reviewer", "320402")
    response = api.post(f"/applications/{access_world['application_id']}/assignment",
                        {"reviewer_id": second.id, "reason": "均衡工作量"}, token=access_world["tokens"][caller])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller, status", expect(
    {"county_official": 201, "city_official": 201, "province_official": 201, "admin": 201,
     "other_city_official": 404, "anonymous": 401}, 403))
def test_blacklist_a_firm(api, access_world, caller, status):
    enterprise_id = api.get(f"/applications/{access_world['application_id']}",
                            token=access_world["tokens"]["firm"]).get_json()["enterprise_id"]
    response = api.post("/blacklist", {"enterprise_id": enterprise_id, "reason": "伪造材料"},
                        token=access_world["tokens"][caller])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller, status", expect(
    {"county_official": 200, "city_official": 200, "province_official": 200, "admin": 200,
     "other_city_official": 200, "anonymous": 401}, 403))
def test_overview(api, access_world, caller, status):
    response = api.get("/reviews/overview", token=access_world["tokens"][caller])
    assert response.status_code == status
    if status == 200:
        counties = {row["jurisdiction_code"] for row in response.get_json()["rows"]}
        assert counties == (set() if caller == "other_city_official" else {"320402"})


OUTSIDE = {"other_firm": 404, "other_county_reviewer": 404, "other_city_reviewer": 404, "other_city_official": 404,
           "anonymous": 401}
OFFICIALS = {"county_official", "city_official", "province_official", "admin"}


@pytest.mark.parametrize("caller, status", expect(OUTSIDE, 200))
def test_read_a_rating(api, access_world, caller, status):
    number = rated(api, access_world)
    assert api.get(f"/ratings/{number}", token=access_world["tokens"][caller]).status_code == status


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "firm": 200, "other_firm": 404, "other_city_official": 404, **{name: 200 for name in OFFICIALS}},
    403))
def test_download_a_certificate(api, access_world, caller, status):
    number = rated(api, access_world, render=True)
    response = api.get(f"/ratings/{number}/certificate.pdf", token=access_world["tokens"][caller])
    assert response.status_code == status
    assert (response.mimetype == "application/pdf") == (status == 200)


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "other_city_official": 404, **{name: 202 for name in OFFICIALS}}, 403))
def test_regenerate_a_certificate(api, access_world, caller, status):
    number = rated(api, access_world)
    assert api.post(f"/ratings/{number}/certificate", token=access_world["tokens"][caller]).status_code == status


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "other_city_official": 404, **{name: 200 for name in OFFICIALS}}, 403))
def test_record_a_disbursement(api, access_world, caller, status):
    number = rated(api, access_world)
    response = api.post(f"/ratings/{number}/disbursement", {"state": "paid", "disbursed_on": clock.today().isoformat()},
                        token=access_world["tokens"][caller])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "other_city_official": 404, **{name: 200 for name in OFFICIALS}}, 403))
def test_revoke_a_rating(api, access_world, caller, status):
    number = rated(api, access_world)
    response = api.post(f"/ratings/{number}/revoke", {"reason": "材料造假"}, token=access_world["tokens"][caller])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller", CALLERS)
def test_verification_is_public(api, access_world, caller):
    number = rated(api, access_world)
    body = api.get(f"/verify/{number}", token=access_world["tokens"][caller]).get_json()
    assert body["certificate_no"] == number and body["status"] == "valid"
