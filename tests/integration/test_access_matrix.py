"""Who may do what on the review and publicity endpoints: every role and scope, each cell asserted.

An application of a firm in 天宁区 (320402, 常州市 320400). "other_*" are the same role
in another county (320411) or city (320100). A cell that differs from the table fails.
"""
from __future__ import annotations

import pytest

from rating import clock
from rating.services.accounts.accounts import issue_token
from tests.factories import make_batch, make_staff
from tests.integration.test_reviews_api import decide, scored

ROLES = {
    "county_reviewer": ("reviewer", "320402"), "other_county_reviewer": ("reviewer", "320411"),
    "city_reviewer": ("reviewer", "320400"), "other_city_reviewer": ("reviewer", "320100"),
    "province_reviewer": ("reviewer", "320000"), "expert": ("expert", "320400"),
    "county_official": ("official", "320402"), "city_official": ("official", "320400"),
    "other_city_official": ("official", "320100"), "province_official": ("official", "320000"),
    "admin": ("admin", None),
}
CALLERS = ("anonymous", "firm", "other_firm", *ROLES)


@pytest.fixture()
def world(api, app):
    batch = make_batch("js-2024")
    staff = {name: make_staff(role, code) for name, role, code in ((n, *v) for n, v in ROLES.items())}
    tokens = {name: issue_token(user)[0] for name, user in staff.items()}   # the token API is tested elsewhere
    tokens["anonymous"] = None
    tokens["other_firm"] = api.register_firm("320411")[1]
    application_id, tokens["firm"] = scored(api, batch, 3)
    return {"batch": batch, "tokens": tokens, "staff": staff, "application_id": application_id}


def approved(api, world) -> int:
    tokens, application_id = world["tokens"], world["application_id"]
    assert decide(api, tokens["county_reviewer"], application_id, "forward").status_code == 201
    assert decide(api, tokens["city_reviewer"], application_id, "approve").status_code == 201
    return application_id


def notice(api, world) -> int:
    today = clock.today().isoformat()
    created = api.post("/publicity-notices", {"title": "公示", "application_ids": [approved(api, world)],
                                              "starts_on": today, "ends_on": today},
                       token=world["tokens"]["city_official"])
    assert created.status_code == 201
    return created.get_json()["id"]


def expect(table: dict[str, int], default: int) -> list[tuple[str, int]]:
    assert set(table) <= set(CALLERS)
    return [(caller, table.get(caller, default)) for caller in CALLERS]


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "firm": 403, "other_firm": 403}, 200))
def test_queue(api, world, caller, status):
    assert api.get("/reviews/queue", token=world["tokens"][caller]).status_code == status


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "firm": 403, "other_firm": 403, "county_reviewer": 201, "expert": 404,
     "other_county_reviewer": 404, "other_city_reviewer": 404, "other_city_official": 404}, 403))
def test_decide_at_the_county_stage(api, world, caller, status):
    response = decide(api, world["tokens"][caller], world["application_id"], "return", "请补充材料",
                      version=api.get(f"/applications/{world['application_id']}",
                                      token=world["tokens"]["firm"]).get_json()["version"])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "firm": 403, "other_firm": 403, "county_reviewer": 403, "other_county_reviewer": 403,
     "city_reviewer": 403, "other_city_reviewer": 403, "province_reviewer": 403, "expert": 403,
     "county_official": 403, "city_official": 201, "other_city_official": 404, "province_official": 403,
     "admin": 201}, 0))
def test_create_notice(api, world, caller, status):
    application_id = approved(api, world)
    today = clock.today().isoformat()
    response = api.post("/publicity-notices", {"title": "公示", "application_ids": [application_id],
                                               "starts_on": today, "ends_on": today},
                        token=world["tokens"][caller])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "firm": 403, "other_firm": 403, "county_reviewer": 403, "other_county_reviewer": 403,
     "city_reviewer": 403, "other_city_reviewer": 403, "province_reviewer": 403, "expert": 403,
     "county_official": 404, "other_city_official": 404}, 200))
def test_close_notice(api, world, caller, status):
    notice_id = notice(api, world)
    response = api.post(f"/publicity-notices/{notice_id}/close", token=world["tokens"][caller])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller", CALLERS)
def test_notices_and_objections_are_public(api, world, caller):
    notice_id = notice(api, world)
    token = world["tokens"][caller]
    body = api.get(f"/publicity-notices/{notice_id}", token=token).get_json()
    assert [e["application_id"] for e in body["entries"]] == [world["application_id"]]
    # Only those who manage the notice see the objectors' names and contacts.
    assert ("objections" in body) == (caller in ("city_official", "province_official", "admin"))
    objection = {"application_id": world["application_id"], "name": "李四", "contact": "li@example.com",
                 "reason": "数据不实"}
    assert api.post(f"/publicity-notices/{notice_id}/objections", objection, token=token).status_code == 201


@pytest.mark.parametrize("caller, status", expect(
    {"county_official": 201, "city_official": 201, "province_official": 201, "admin": 201,
     "other_city_official": 404, "anonymous": 401}, 403))
def test_reassign(api, world, caller, status):
    second = make_staff("reviewer", "320402")
    response = api.post(f"/applications/{world['application_id']}/assignment",
                        {"reviewer_id": second.id, "reason": "均衡工作量"}, token=world["tokens"][caller])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller, status", expect(
    {"county_official": 201, "city_official": 201, "province_official": 201, "admin": 201,
     "other_city_official": 404, "anonymous": 401}, 403))
def test_blacklist_a_firm(api, world, caller, status):
    enterprise_id = api.get(f"/applications/{world['application_id']}",
                            token=world["tokens"]["firm"]).get_json()["enterprise_id"]
    response = api.post("/blacklist", {"enterprise_id": enterprise_id, "reason": "伪造材料"},
                        token=world["tokens"][caller])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller, status", expect(
    {"county_official": 200, "city_official": 200, "province_official": 200, "admin": 200,
     "other_city_official": 200, "anonymous": 401}, 403))
def test_overview(api, world, caller, status):
    response = api.get("/reviews/overview", token=world["tokens"][caller])
    assert response.status_code == status
    if status == 200:
        counties = {row["jurisdiction_code"] for row in response.get_json()["rows"]}
        assert counties == (set() if caller == "other_city_official" else {"320402"})


def rated(api, world, render: bool = False) -> str:
    """The firm's application, through a closed notice, as a rating (with its certificate rendered)."""
    from sqlalchemy import select

    from rating.extensions import db
    from rating.models import Rating
    from rating.services.ratings import certificates

    notice_id = notice(api, world)
    assert api.post(f"/publicity-notices/{notice_id}/close", token=world["tokens"]["city_official"]).status_code == 200
    db.session.expire_all()
    rating = db.session.execute(select(Rating).where(Rating.application_id == world["application_id"])).scalar_one()
    if render:
        assert certificates.render(rating.id) == "rendered"
    return rating.certificate_no


OUTSIDE = {"other_firm": 404, "other_county_reviewer": 404, "other_city_reviewer": 404, "other_city_official": 404,
           "anonymous": 401}
OFFICIALS = {"county_official", "city_official", "province_official", "admin"}


@pytest.mark.parametrize("caller, status", expect(OUTSIDE, 200))
def test_read_a_rating(api, world, caller, status):
    number = rated(api, world)
    assert api.get(f"/ratings/{number}", token=world["tokens"][caller]).status_code == status


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "firm": 200, "other_firm": 404, "other_city_official": 404, **{name: 200 for name in OFFICIALS}},
    403))
def test_download_a_certificate(api, world, caller, status):
    number = rated(api, world, render=True)
    response = api.get(f"/ratings/{number}/certificate.pdf", token=world["tokens"][caller])
    assert response.status_code == status
    assert (response.mimetype == "application/pdf") == (status == 200)


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "other_city_official": 404, **{name: 202 for name in OFFICIALS}}, 403))
def test_regenerate_a_certificate(api, world, caller, status):
    number = rated(api, world)
    assert api.post(f"/ratings/{number}/certificate", token=world["tokens"][caller]).status_code == status


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "other_city_official": 404, **{name: 200 for name in OFFICIALS}}, 403))
def test_record_a_disbursement(api, world, caller, status):
    number = rated(api, world)
    response = api.post(f"/ratings/{number}/disbursement", {"state": "paid", "disbursed_on": clock.today().isoformat()},
                        token=world["tokens"][caller])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 401, "other_city_official": 404, **{name: 200 for name in OFFICIALS}}, 403))
def test_revoke_a_rating(api, world, caller, status):
    number = rated(api, world)
    response = api.post(f"/ratings/{number}/revoke", {"reason": "材料造假"}, token=world["tokens"][caller])
    assert response.status_code == status, response.get_json()


@pytest.mark.parametrize("caller", CALLERS)
def test_verification_is_public(api, world, caller):
    number = rated(api, world)
    body = api.get(f"/verify/{number}", token=world["tokens"][caller]).get_json()
    assert body["certificate_no"] == number and body["status"] == "valid"
