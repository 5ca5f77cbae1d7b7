"""Stage decisions through the API on PostgreSQL: county → city → province."""
from __future__ import annotations

import threading

import pytest

from sqlalchemy import func, select

from rating.extensions import db
from rating.models import Application, AuditEntry, StatusChange
from rating.platform import jobs
from rating.services.review import reviews, scoring_runs
from tests.support.factories import make_staff
from tests.support.flows import decide, route, scored

pytestmark = pytest.mark.integration


@pytest.fixture()
def staff(api, app):
    users = {
        "county": make_staff("reviewer", "320402"),
        "other_county": make_staff("reviewer", "320411"),
        "city": make_staff("reviewer", "320400"),
        "other_city": make_staff("reviewer", "320100"),
        "province": make_staff("reviewer", "320000"),
        "official": make_staff("official", "320400"),
    }
    return {name: api.token(user.email) for name, user in users.items()}


def test_three_star_path(api, batch, staff):
    application_id, _firm = scored(api, batch, 3)
    forwarded = decide(api, staff["county"], application_id, "forward", "材料齐全")
    assert forwarded.status_code == 201, forwarded.get_json()
    assert forwarded.get_json()["status"] == "in_review" and forwarded.get_json()["stage"] == "city"
    assert decide(api, staff["city"], application_id, "forward").status_code == 422   # the city has the final say
    approved = decide(api, staff["city"], application_id, "approve", "同意")
    assert approved.get_json() == {"status": "approved", "stage": None,
                                   "version": forwarded.get_json()["version"] + 1}
    history = api.get(f"/applications/{application_id}", token=staff["city"]).get_json()["history"]
    assert [h["action"] for h in history][-2:] == ["forward", "approve"]
    assert history[-2]["comment"] == "材料齐全"


def test_a_decision_is_part_of_the_callers_transaction(api, batch, monkeypatch):
    """The use case writes and flushes, the edge commits: so a decision composes with other
    use cases, and rolled back it leaves nothing (no move, history, audit entry or job)."""
    reviewer = make_staff("reviewer", "320402")
    application_id, _firm = scored(api, batch, 3)
    published = []
    monkeypatch.setattr(jobs, "publish", lambda task, *args, **_kw: published.append((task, args)))

    def counts():
        return [db.session.execute(select(func.count()).select_from(model)).scalar_one()
                for model in (StatusChange, AuditEntry)]

    before = counts()
    application = db.session.get(Application, application_id)
    reviews.decide(reviewer, application, "forward", "材料齐全", application.version)
    assert application.stage == "city"                  # written inside the transaction…
    db.session.rollback()                               # …which the caller ends
    db.session.expire_all()
    assert db.session.get(Application, application_id).stage == "county"
    assert counts() == before and published == []
    reviews.decide(reviewer, db.session.get(Application, application_id), "forward", "材料齐全",
                   db.session.get(Application, application_id).version)
    db.session.commit()
    assert published == [(jobs.ROUTE_APPLICATION, (application_id,))]


def test_five_star_goes_to_the_province(api, batch, staff):
    application_id, _firm = scored(api, batch, 5)
    assert decide(api, staff["county"], application_id, "approve").status_code == 422
    assert decide(api, staff["county"], application_id, "forward").get_json()["stage"] == "city"
    assert decide(api, staff["city"], application_id, "approve").status_code == 422
    assert decide(api, staff["city"], application_id, "forward").get_json()["stage"] == "province"
    assert decide(api, staff["province"], application_id, "approve").get_json()["status"] == "approved"


def test_return_needs_a_comment_and_comes_back_to_the_same_stage(api, batch, staff):
    application_id, firm = scored(api, batch, 3)
    decide(api, staff["county"], application_id, "forward")
    assert decide(api, staff["city"], application_id, "return").status_code == 422
    returned = decide(api, staff["city"], application_id, "return", "请补充设备清单")
    assert returned.get_json() == {"status": "returned", "stage": "city",
                                   "version": returned.get_json()["version"]}
    assert api.patch(f"/applications/{application_id}", {"answers": {"business_app_count": 20}},
                     token=firm).status_code == 200
    assert api.post(f"/applications/{application_id}/submit", {"pledge": True}, token=firm).status_code == 202
    assert scoring_runs.score_application(application_id) == "scored"
    body = api.get(f"/applications/{application_id}", token=firm).get_json()
    assert body["status"] == "in_review" and body["stage"] == "city"
    assert [h["action"] for h in body["history"]][-2:] == ["resubmit", "scored"]
    assert decide(api, staff["city"], application_id, "approve").get_json()["status"] == "approved"


def test_reject(api, batch, staff):
    application_id, _firm = scored(api, batch, 3)
    assert decide(api, staff["county"], application_id, "reject", "不符合基本条件").get_json()["status"] == "rejected"
    assert decide(api, staff["county"], application_id, "forward").status_code in (403, 409, 422)


def test_who_may_decide(api, batch, staff):
    application_id, firm = scored(api, batch, 3)
    version = api.get(f"/applications/{application_id}", token=firm).get_json()["version"]
    for who, status in [("other_county", 404), ("other_city", 404), ("city", 403), ("official", 403)]:
        assert decide(api, staff[who], application_id, "forward", version=version).status_code == status, who
    assert decide(api, firm, application_id, "forward", version=version).status_code == 403
    assert api.post(f"/applications/{application_id}/decisions", {"decision": "forward", "version": 1}).status_code == 401
    assert decide(api, staff["county"], application_id, "forward").status_code == 201


def test_stale_version_is_409(api, batch, staff):
    application_id, _firm = scored(api, batch, 3)
    version = api.get(f"/applications/{application_id}", token=staff["county"]).get_json()["version"]
    assert decide(api, staff["county"], application_id, "forward", version=version).status_code == 201
    stale = decide(api, staff["city"], application_id, "approve", version=version)
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "conflict"


def test_two_reviewers_at_once_one_wins(api, app, batch, staff):
    application_id, _firm = scored(api, batch, 3)
    second = make_staff("reviewer", "320402")
    tokens = [staff["county"], api.token(second.email)]
    version = api.get(f"/applications/{application_id}", token=tokens[0]).get_json()["version"]
    barrier = threading.Barrier(2)
    results = []

    def act(token, decision, comment):
        client = app.test_client()
        barrier.wait()
        response = client.post(f"/api/v1/applications/{application_id}/decisions",
                               json={"decision": decision, "comment": comment, "version": version},
                               headers={"Authorization": f"Bearer {token}"})
        results.append(response.status_code)

    threads = [threading.Thread(target=act, args=(tokens[0], "forward", "")),
               threading.Thread(target=act, args=(tokens[1], "reject", "不符合条件"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201, 409]
    history = api.get(f"/applications/{application_id}", token=tokens[0]).get_json()["history"]
    assert sum(h["action"] in ("forward", "reject") for h in history) == 1


def test_adjustments(api, batch, staff):
    application_id, _firm = scored(api, batch, 3)
    too_high = decide(api, staff["county"], application_id, "forward",
                      adjustments=[{"code": "business_app_count", "points": 99, "reason": "核减"}])
    assert too_high.status_code == 422
    assert "adjustments.0.points" in too_high.get_json()["error"]["fields"]
    unknown = decide(api, staff["county"], application_id, "forward",
                     adjustments=[{"code": "nope", "points": 1, "reason": "x"}])
    assert unknown.status_code == 422
    ok = decide(api, staff["county"], application_id, "forward",
                adjustments=[{"code": "business_app_count", "points": 3, "reason": "工业APP清单核实为6个"}])
    assert ok.status_code == 201
    from rating.models import ScoreAdjustment

    row = db.session.query(ScoreAdjustment).one()
    assert (row.indicator_code, row.points, row.stage) == ("business_app_count", 3, "county")


@pytest.mark.parametrize("body, field", [
    ({"decision": "maybe", "version": 1}, "decision"),
    ({"decision": "forward"}, "version"),
    ({"decision": "forward", "version": "x"}, "version"),
    ({"decision": "forward", "version": 1, "adjustments": "x"}, "adjustments"),
])
def test_bad_decision_bodies(api, batch, staff, body, field):
    application_id, _firm = scored(api, batch, 3)
    response = api.post(f"/applications/{application_id}/decisions", body, token=staff["county"])
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_queues(api, batch, staff):
    application_id, _firm = scored(api, batch, 3)
    assert [q["application_id"] for q in api.get("/reviews/queue", token=staff["county"]).get_json()] == [application_id]
    assert api.get("/reviews/queue?level=4", token=staff["county"]).get_json() == []
    assert api.get("/reviews/queue?overdue=1", token=staff["county"]).get_json() == []
    assert len(api.get("/reviews/queue?level=3", token=staff["county"]).get_json()) == 1
    assert api.get("/reviews/queue", token=staff["other_county"]).get_json() == []
    assert api.get("/reviews/queue", token=staff["city"]).get_json() == []
    decide(api, staff["county"], application_id, "forward")
    assert api.get("/reviews/queue", token=staff["county"]).get_json() == []
    assert api.get("/reviews/queue", token=staff["city"]).get_json() == []    # not routed yet
    assert route(application_id) == "assigned"
    entry = api.get("/reviews/queue", token=staff["city"]).get_json()[0]
    assert entry["stage"] == "city" and entry["target_level"] == 3 and entry["assigned_at"].endswith("+08:00")
    assert entry["due_at"] > entry["assigned_at"] and entry["overdue"] is False
    assert api.get("/reviews/queue", token=_firm).status_code == 403
