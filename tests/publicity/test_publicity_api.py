"""Publicity on PostgreSQL: notice, public objections, resolution, closing into ratings."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from rating import clock
from rating.extensions import db
from rating.models import PublicityNotice, Rating
from rating.services.review import routing
from tests.support.flows import approved, decide, notice_body, scored

pytestmark = pytest.mark.integration


def test_notice_objections_and_closing(api, batch, people):
    ids = [approved(api, batch, people)[0] for _ in range(3)]
    firm_token = api.register_firm("320402")[1]
    created = api.post("/publicity-notices", notice_body(ids), token=people["city_official"])
    assert created.status_code == 201, created.get_json()
    notice_id = created.get_json()["id"]
    assert created.get_json()["url"].endswith(f"/publicity/{notice_id}")
    assert api.post("/publicity-notices", notice_body(ids), token=people["city_official"]).status_code == 409

    public = api.get(f"/publicity-notices/{notice_id}").get_json()       # no login
    assert public["status"] == "open" and [e["application_id"] for e in public["entries"]] == ids
    assert public["entries"][0]["level"] == 3 and "*" in public["entries"][0]["uscc"]
    assert "objections" not in public
    assert api.get(f"/applications/{ids[0]}", token=people["city_official"]).get_json()["status"] == "publicity"

    objection = {"application_id": ids[0], "name": "张三", "contact": "13800000000", "reason": "该企业设备上云数据不实。"}
    assert api.post(f"/publicity-notices/{notice_id}/objections", objection).status_code == 201
    assert api.post(f"/publicity-notices/{notice_id}/objections",
                    {**objection, "application_id": ids[1]}).status_code == 201
    too_long = api.post(f"/publicity-notices/{notice_id}/objections", {**objection, "reason": "长" * 2001})
    assert too_long.status_code == 422 and "reason" in too_long.get_json()["error"]["fields"]
    missing = api.post(f"/publicity-notices/{notice_id}/objections", {"application_id": ids[0]})
    assert set(missing.get_json()["error"]["fields"]) == {"name", "contact", "reason"}
    stranger = api.post(f"/publicity-notices/{notice_id}/objections", {**objection, "application_id": 999})
    assert stranger.status_code == 422

    # Only the publishing city (or above) manages the notice.
    assert api.post(f"/publicity-notices/{notice_id}/close", token=people["other_city_official"]).status_code == 404
    assert api.post(f"/publicity-notices/{notice_id}/close", token=firm_token).status_code == 403
    managed = api.get(f"/publicity-notices/{notice_id}", token=people["city_official"]).get_json()
    first, second = managed["objections"]
    assert first["name"] == "张三" and first["status"] == "open"

    # An objection upheld during the notice: the application goes back to the city stage.
    upheld = api.post(f"/publicity-notices/{notice_id}/objections/{second['id']}/resolve",
                      {"outcome": "uphold", "comment": "经核查数据不实"}, token=people["city_official"])
    assert upheld.status_code == 422 and "action" in upheld.get_json()["error"]["fields"]
    upheld = api.post(f"/publicity-notices/{notice_id}/objections/{second['id']}/resolve",
                      {"outcome": "uphold", "action": "return", "comment": "经核查数据不实，请补正"},
                      token=people["city_official"])
    assert upheld.get_json()["application_status"] == "returned"
    body = api.get(f"/applications/{ids[1]}", token=people["city_official"]).get_json()
    assert (body["status"], body["stage"]) == ("returned", "city")

    closed = api.post(f"/publicity-notices/{notice_id}/close", token=people["city_official"])
    assert closed.status_code == 200, closed.get_json()
    assert closed.get_json() == {"rated": [ids[2]], "held": [ids[0]]}
    assert api.post(f"/publicity-notices/{notice_id}/close", token=people["city_official"]).status_code == 409
    # Five objections a minute from one address; the sixth is refused.
    limited = api.post(f"/publicity-notices/{notice_id}/objections", objection)
    assert limited.status_code == 429 and limited.get_json()["error"]["code"] == "rate_limited"
    late = api.post(f"/publicity-notices/{notice_id}/objections", objection,
                    environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert late.status_code == 409 and "公示期" in late.get_json()["error"]["message"]
    statuses = [api.get(f"/applications/{i}", token=people["city_official"]).get_json()["status"] for i in ids]
    assert statuses == ["held", "returned", "rated"]

    dismissed = api.post(f"/publicity-notices/{notice_id}/objections/{first['id']}/resolve",
                         {"outcome": "dismiss", "comment": "经核查，异议不成立"}, token=people["city_official"])
    assert dismissed.get_json()["application_status"] == "rated"
    ratings = db.session.execute(select(Rating).order_by(Rating.application_id)).scalars().all()
    assert [r.application_id for r in ratings] == [ids[0], ids[2]]
    today = clock.today()
    assert ratings[0].granted_on == today and ratings[0].valid_until.year == today.year + 3
    assert ratings[0].status == "valid" and ratings[0].level == 3


def test_who_publishes_what(api, batch, people):
    three, _ = approved(api, batch, people, 3)
    five, _ = approved(api, batch, people, 5)
    scored_only, _ = scored(api, batch, 3)
    assert api.post("/publicity-notices", notice_body([three]), token=people["county_official"]).status_code == 403
    assert api.post("/publicity-notices", notice_body([three]), token=people["other_city_official"]).status_code == 404
    assert api.post("/publicity-notices", notice_body([five]), token=people["city_official"]).status_code == 403
    assert api.post("/publicity-notices", notice_body([three, five]),
                    token=people["province_official"]).status_code == 422      # two different deciders
    assert api.post("/publicity-notices", notice_body([scored_only]),
                    token=people["city_official"]).status_code == 409
    assert api.post("/publicity-notices", notice_body([five]), token=people["province_official"]).status_code == 201
    assert api.post("/publicity-notices", notice_body([three]), token=people["city_official"]).status_code == 201


@pytest.mark.parametrize("change, field", [
    ({"application_ids": []}, "application_ids"),
    ({"application_ids": "1"}, "application_ids"),
    ({"application_ids": [True]}, "application_ids"),
    ({"title": ""}, "title"),
    ({"starts_on": "2026-13-01"}, "starts_on"),
    ({"ends_on": "2000-01-01"}, "ends_on"),
])
def test_bad_notice_bodies(api, batch, people, change, field):
    application_id, _ = approved(api, batch, people)
    response = api.post("/publicity-notices", {**notice_body([application_id]), **change},
                        token=people["city_official"])
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert db.session.query(PublicityNotice).count() == 0


def test_closing_waits_for_the_last_day(api, batch, people):
    application_id, _ = approved(api, batch, people)
    notice_id = api.post("/publicity-notices", notice_body([application_id], days=7),
                         token=people["city_official"]).get_json()["id"]
    early = api.post(f"/publicity-notices/{notice_id}/close", token=people["city_official"])
    last = (clock.today() + timedelta(days=7)).isoformat()
    assert early.status_code == 409 and f"自最后一天（{last}）起方可结束公示" in early.get_json()["error"]["message"]
    assert api.get("/publicity-notices/999").status_code == 404
    # API.md: allowed from `ends_on` on, so on its last day.
    last_day = api.post("/publicity-notices", notice_body([approved(api, batch, people)[0]]),
                        token=people["city_official"]).get_json()["id"]
    assert api.post(f"/publicity-notices/{last_day}/close", token=people["city_official"]).status_code == 200


def test_a_higher_rating_supersedes_the_lower(api, batch, people):
    application_id, firm = approved(api, batch, people, 4)     # the firm already holds 3★
    notice_id = api.post("/publicity-notices", notice_body([application_id]),
                         token=people["city_official"]).get_json()["id"]
    api.post(f"/publicity-notices/{notice_id}/close", token=people["city_official"])
    statuses = dict(db.session.execute(select(Rating.level, Rating.status)).all())
    assert statuses == {3: "superseded", 4: "valid"}
    routing.route_waiting()   # nothing in review any more: nothing to route


def test_a_rating_already_on_record_is_reused(api, batch, people):
    from rating.models import Application

    application_id, _firm = approved(api, batch, people, 3)
    application = db.session.get(Application, application_id)
    imported = Rating(enterprise_id=application.enterprise_id, level=3, year=batch.year,
                      granted_on=clock.today(), valid_until=clock.today() + timedelta(days=30), status="valid")
    db.session.add(imported)
    db.session.commit()
    notice_id = api.post("/publicity-notices", notice_body([application_id]),
                         token=people["city_official"]).get_json()["id"]
    closed = api.post(f"/publicity-notices/{notice_id}/close", token=people["city_official"])
    assert closed.status_code == 200 and closed.get_json()["rated"] == [application_id]
    db.session.expire_all()
    ratings = db.session.execute(select(Rating)).scalars().all()
    assert [(r.id, r.application_id) for r in ratings] == [(imported.id, application_id)]
