"""The whole path for each level on PostgreSQL with a real Celery worker: scoring and routing
happen in the worker, emails go to a real SMTP server, a notice closes into a rating."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from rating import clock
from rating.extensions import db
from rating.models import OutboxEmail, Rating
from tests.support.factories import grant_rating, make_batch, make_staff
from tests.support.flows import decide, file_everything
from tests.support.mail import subject
from tests.support.servers import worker

pytestmark = pytest.mark.integration


def wait_in_queue(api, token: str, application_id: int, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in api.get("/reviews/queue", token=token).get_json():
            if item["application_id"] == application_id:
                return item
        time.sleep(0.2)
    raise AssertionError(f"application {application_id} never reached the queue")


def submit(api, token: str, application_id: int) -> None:
    response = api.post(f"/applications/{application_id}/submit", {"pledge": True}, token=token)
    assert response.status_code == 202, response.get_json()


def notice(api, token: str, application_id: int) -> int:
    today = clock.today().isoformat()
    created = api.post("/publicity-notices", {"title": "拟认定名单公示", "application_ids": [application_id],
                                              "starts_on": today, "ends_on": today}, token=token)
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def object_to(api, notice_id: int, application_id: int) -> int:
    response = api.post(f"/publicity-notices/{notice_id}/objections",
                        {"application_id": application_id, "name": "赵六", "contact": "zhao@example.com",
                         "reason": "设备上云数量与实际不符"})
    assert response.status_code == 201
    return response.get_json()["id"]


@pytest.mark.parametrize("level", [3, 4, 5])
def test_whole_path(api, app_env, log_dir, smtp_server, level):
    batch = make_batch("js-2024")
    tokens = {name: api.token(make_staff(role, code).email) for name, role, code in [
        ("county", "reviewer", "320402"), ("city", "reviewer", "320400"), ("province", "reviewer", "320000"),
        ("city_official", "official", "320400"), ("province_official", "official", "320000")]}
    publisher = tokens["province_official" if level == 5 else "city_official"]
    smtp_server.clear()
    proc = worker({**app_env, "SWEEP_INTERVAL_SECONDS": "1"}, log_dir)
    try:
        firm, firm_token = api.register_firm("320402")
        for held in range(3, level):
            grant_rating(firm["id"], held)
        application_id = file_everything(api, firm_token, batch, level)["id"]
        submit(api, firm_token, application_id)
        wait_in_queue(api, tokens["county"], application_id)          # scored and routed by the worker

        if level == 3:   # return → resubmit → the same stage, with a diff
            assert decide(api, tokens["county"], application_id, "return", "请更正工业APP数量").status_code == 201
            assert api.patch(f"/applications/{application_id}", {"answers": {"business_app_count": 2}},
                             token=firm_token).status_code == 200
            submit(api, firm_token, application_id)
            wait_in_queue(api, tokens["county"], application_id)
            diff = api.get(f"/applications/{application_id}/diff", token=tokens["county"]).get_json()
            assert [a["code"] for a in diff["answers"]] == ["business_app_count"]

        assert decide(api, tokens["county"], application_id, "forward", "材料齐全").status_code == 201
        wait_in_queue(api, tokens["city"], application_id)
        if level == 5:
            assert decide(api, tokens["city"], application_id, "forward", "推荐").status_code == 201
            wait_in_queue(api, tokens["province"], application_id)
            assert decide(api, tokens["province"], application_id, "approve", "同意").status_code == 201
        else:
            assert decide(api, tokens["city"], application_id, "approve", "同意").status_code == 201

        notice_id = notice(api, publisher, application_id)
        if level == 4:   # an objection upheld: back to the city stage, revised, approved again
            objection_id = object_to(api, notice_id, application_id)
            upheld = api.post(f"/publicity-notices/{notice_id}/objections/{objection_id}/resolve",
                              {"outcome": "uphold", "action": "return", "comment": "请补充设备清单"}, token=publisher)
            assert upheld.get_json()["application_status"] == "returned"
            submit(api, firm_token, application_id)
            wait_in_queue(api, tokens["city"], application_id)
            assert decide(api, tokens["city"], application_id, "approve", "补充后同意").status_code == 201
            notice_id = notice(api, publisher, application_id)
        if level == 5:   # an objection dismissed after the close: held, then rated
            objection_id = object_to(api, notice_id, application_id)
        closed = api.post(f"/publicity-notices/{notice_id}/close", token=publisher).get_json()
        if level == 5:
            assert closed == {"rated": [], "held": [application_id]}
            dismissed = api.post(f"/publicity-notices/{notice_id}/objections/{objection_id}/resolve",
                                 {"outcome": "dismiss", "comment": "经核查不成立"}, token=publisher)
            assert dismissed.get_json()["application_status"] == "rated"
        else:
            assert closed == {"rated": [application_id], "held": []}

        # The worker mails the firm its rating (status emails go to the firm's contact address).
        smtp_server.wait_for(lambda m: "已认定" in subject(m) and f"#{application_id}" in subject(m))
    finally:
        proc.stop()
    db.session.rollback()
    rating = db.session.execute(select(Rating).where(Rating.application_id == application_id)).scalar_one()
    assert (rating.level, rating.status) == (level, "valid")
    history = [h["action"] for h in api.get(f"/applications/{application_id}", token=firm_token).get_json()["history"]]
    assert history[0] == "create" and history[-1] == "rated" and "scored" in history
    kinds = db.session.execute(select(OutboxEmail.kind).where(OutboxEmail.application_id == application_id)
                               ).scalars().all()
    assert kinds.count("assigned") >= 2      # the county and the city reviewer were told
