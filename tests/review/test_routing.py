"""Routing on PostgreSQL: balance, conflicts, waiting work, return to the same reviewer, deadlines."""
from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

import pytest

from rating.extensions import db
from rating.models import Enterprise, ReviewAssignment, ReviewerConflict
from rating.platform import audit
from rating.services.review import assignments, routing, scoring_runs
from tests.support.factories import make_staff
from tests.support.flows import decide, file_everything, route
from tests.support.people import log_in

pytestmark = pytest.mark.integration


def submitted_and_scored(api, batch, district="320402", group=None) -> tuple[int, str]:
    firm, token = api.register_firm(district)
    if group:
        db.session.get(Enterprise, firm["id"]).group_name = group
        db.session.commit()
    body = file_everything(api, token, batch, 3)
    assert api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token).status_code == 202
    assert scoring_runs.score_application(body["id"]) == "scored"
    return body["id"], token


def deadlines() -> dict[str, list[int]]:
    """The review_deadlines task: the use case, then its commit."""
    marked = assignments.deadlines(timedelta(hours=48))
    db.session.commit()
    return marked


def open_for(application_id: int) -> ReviewAssignment | None:
    db.session.expire_all()
    return routing.open_assignment(application_id)


def test_load_is_balanced_within_the_county(api, batch):
    reviewers = [make_staff("reviewer", "320402") for _ in range(3)]
    make_staff("reviewer", "320411")                      # another county: never chosen
    ids = [submitted_and_scored(api, batch)[0] for _ in range(7)]   # scoring assigns each
    assert [route(i) for i in ids] == ["kept"] * 7              # routing again changes nothing
    counts = {r.id: 0 for r in reviewers}
    for application_id in ids:
        counts[open_for(application_id).reviewer_id] += 1
    assert sorted(counts.values()) == [2, 2, 3]
    # The first three went one to each: ties are broken by who waited longest.
    assert len({open_for(i).reviewer_id for i in ids[:3]}) == 3


def test_closed_work_counts_for_idleness_not_for_load(api, batch):
    first, second = make_staff("reviewer", "320402"), make_staff("reviewer", "320402")
    a, _ = submitted_and_scored(api, batch)
    took_a = open_for(a).reviewer_id
    other = second.id if took_a == first.id else first.id
    routing.close_open(a, "decided")
    db.session.commit()
    # Neither has open work now; the one who took `a` was busy more recently.
    b, _ = submitted_and_scored(api, batch)
    assert open_for(b).reviewer_id == other
    # Now `other` has one open and the first none: the closed one does not count as load.
    c, _ = submitted_and_scored(api, batch)
    assert open_for(c).reviewer_id == took_a


def test_conflicts_are_never_assigned(api, batch):
    conflicted, free = make_staff("reviewer", "320402"), make_staff("reviewer", "320402")
    firm_app, _ = submitted_and_scored(api, batch)
    enterprise_id = db.session.execute(select(Enterprise.id).order_by(Enterprise.id.desc())).scalar()
    assignments.declare_conflict(conflicted, enterprise_id=enterprise_id)
    db.session.commit()
    group_app, _ = submitted_and_scored(api, batch, group="常州某集团")
    assignments.declare_conflict(conflicted, group_name="常州某集团")
    db.session.commit()
    provider_app, _ = submitted_and_scored(api, batch)
    assignments.declare_conflict(conflicted, provider_name="天翼云")   # every firm's services use it
    db.session.commit()
    for application_id in (firm_app, group_app, provider_app):
        # Scoring assigned it before the conflict was declared (to either); declaring took
        # it back from the conflicted reviewer, and routing gives it to the other.
        assert route(application_id) in ("assigned", "kept")
        assert open_for(application_id).reviewer_id == free.id
    # Scoring itself honours declared conflicts, though the conflicted reviewer is now the
    # least loaded: every firm's services use the provider.
    for _ in range(2):
        later, _ = submitted_and_scored(api, batch)
        assert open_for(later).reviewer_id == free.id
    assert db.session.query(ReviewerConflict).count() == 3
    too_long = api.post("/reviewer-conflicts", {"group_name": "集" * 201}, token=api.token(free.email))
    assert too_long.status_code == 422 and "group_name" in too_long.get_json()["error"]["fields"]


def test_conflicted_reviewer_may_not_decide(api, batch):
    reviewer = make_staff("reviewer", "320402")
    application_id, _ = submitted_and_scored(api, batch)
    route(application_id)
    enterprise_id = db.session.execute(select(Enterprise.id)).scalar()
    assignments.declare_conflict(reviewer, enterprise_id=enterprise_id)
    db.session.commit()
    assert open_for(application_id) is None              # taken back from them
    assert decide(api, api.token(reviewer.email), application_id, "forward").status_code == 403


def test_no_eligible_reviewer_is_flagged_then_assigned_when_one_exists(api, batch):
    official = make_staff("official", "320400")
    application_id, _ = submitted_and_scored(api, batch)
    assert route(application_id) == "unassigned"
    token = api.token(official.email)
    rows = api.get("/reviews/overview", token=token).get_json()["rows"]
    assert rows == [{"jurisdiction_code": "320402", "jurisdiction_name": "天宁区", "stage": "county",
                     "in_review": 1, "unassigned": 1, "overdue": 0, "reviewers": 0, "no_reviewer": True}]
    queue = api.get("/reviews/queue", token=token).get_json()
    assert queue[0]["application_id"] == application_id and queue[0]["assigned_at"] is None
    reviewer = make_staff("reviewer", "320402")
    assert routing.route_waiting(owner="320402") == {"assigned": 1}
    assert open_for(application_id).reviewer_id == reviewer.id
    assert api.get("/reviews/overview", token=token).get_json()["rows"][0]["unassigned"] == 0


def test_resubmission_goes_back_to_the_reviewer_who_returned_it(api, batch):
    first, second = make_staff("reviewer", "320402"), make_staff("reviewer", "320402")
    application_id, firm = submitted_and_scored(api, batch)
    route(application_id)
    owner = open_for(application_id).reviewer_id
    other = second if owner == first.id else first
    other_app, _ = submitted_and_scored(api, batch)
    route(other_app)                              # the other reviewer now has one, the owner one
    assert decide(api, api.token(other.email), application_id, "return", "请补充合同").status_code == 201
    assert open_for(application_id) is None
    assert api.post(f"/applications/{application_id}/submit", {"pledge": True}, token=firm).status_code == 202
    scoring_runs.score_application(application_id)
    route(application_id)
    # Back to whoever had the stage before the return (the owner), not to the least loaded.
    assert open_for(application_id).reviewer_id == owner


def test_forward_routes_to_the_city_and_official_reassigns(api, batch):
    county = make_staff("reviewer", "320402")
    city_a, city_b = make_staff("reviewer", "320400"), make_staff("reviewer", "320400")
    official = make_staff("official", "320400")
    application_id, _ = submitted_and_scored(api, batch)
    route(application_id)
    assert decide(api, api.token(county.email), application_id, "forward").status_code == 201
    assert route(application_id) == "assigned"
    assignment = open_for(application_id)
    assert assignment.stage == "city" and assignment.reviewer_id in (city_a.id, city_b.id)
    target = city_b if assignment.reviewer_id == city_a.id else city_a
    token = api.token(official.email)
    refused = api.post(f"/applications/{application_id}/assignment", {"reviewer_id": county.id, "reason": "x"},
                       token=token)
    assert refused.status_code == 422 and "reviewer_id" in refused.get_json()["error"]["fields"]
    assert api.post(f"/applications/{application_id}/assignment", {"reviewer_id": target.id},
                    token=token).status_code == 422          # a reason is required
    moved = api.post(f"/applications/{application_id}/assignment",
                     {"reviewer_id": target.id, "reason": "原审核人员出差"}, token=token)
    assert moved.status_code == 201, moved.get_json()
    assert moved.get_json()["due_at"] == api.get("/reviews/queue", token=api.token(target.email)).get_json()[0]["due_at"]
    db.session.expire_all()
    rows = db.session.execute(select(ReviewAssignment).order_by(ReviewAssignment.id)).scalars().all()
    assert [(r.stage, r.closed_reason, r.assigned_by_id) for r in rows] == [
        ("county", "decided", None), ("city", "reassigned", None), ("city", None, official.id)]
    other_city = make_staff("official", "320100")
    assert api.post(f"/applications/{application_id}/assignment", {"reviewer_id": target.id, "reason": "x"},
                    token=api.token(other_city.email)).status_code == 404


def test_deadlines_remind_then_flag_overdue_once(api, batch):
    make_staff("reviewer", "320402")
    application_id, _ = submitted_and_scored(api, batch)
    route(application_id)
    assignment = open_for(application_id)
    assert assignment.due_at - assignment.assigned_at <= timedelta(days=batch.county_review_days)
    assert deadlines() == {"reminded": [], "overdue": []}
    assignment.due_at = assignment.assigned_at + timedelta(hours=1)
    db.session.commit()
    assert deadlines() == {"reminded": [assignment.id], "overdue": []}
    assert deadlines() == {"reminded": [], "overdue": []}
    assignment = open_for(application_id)
    assignment.due_at = assignment.assigned_at - timedelta(minutes=1)
    db.session.commit()
    assert deadlines() == {"reminded": [], "overdue": [assignment.id]}
    assert api.get("/reviews/queue", token=api.token(assignment.reviewer.email)).get_json()[0]["overdue"] is True


def test_the_queue_page_pages_and_counts(app, api, batch):
    reviewer = make_staff("reviewer", "320402")
    ids = [submitted_and_scored(api, batch)[0] for _ in range(23)]
    for application_id in ids:
        route(application_id)
    late = open_for(ids[0])
    late.due_at = late.assigned_at - timedelta(minutes=1)
    db.session.commit()
    client = app.test_client()
    log_in(client, reviewer.email, follow_redirects=True)
    first = client.get("/reviews/").text
    assert "共 23 件，其中逾期 1 件" in first and first.count('">审核</a>') == 20
    assert f"#{ids[0]}<" in first                        # soonest due first
    second = client.get("/reviews/?page=2").text
    assert second.count('">审核</a>') == 3 and "第 2 / 2 页" in second
    assert "共 23 件" in client.get("/reviews/?page=9").text          # past the end: counts still shown
    overdue = client.get("/reviews/?overdue=1").text
    assert overdue.count('">审核</a>') == 1 and "共 1 件，其中逾期 1 件" in overdue
    # Each row carries its own firm and current score, in due order across the pages.
    expected = [(f"#{a.application_id}", a.application.enterprise.name,
                 f"{a.application.current_score.total} / {a.application.current_score.max}")
                for a in sorted((open_for(i) for i in ids), key=lambda a: (a.due_at, a.application_id))]
    shown = [_row_cells(row) for page in (first, second) for row in page.split("<tr>")[2:]]
    assert [cells[:2] + [cells[4]] for cells in shown] == [list(e) for e in expected]


def _row_cells(row: str) -> list[str]:
    import re

    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]


def test_a_routing_holding_its_reviewers_does_not_deadlock_their_decisions(app, api, batch, monkeypatch):
    """A routing job locks the jurisdiction's reviewers, then takes the audit chain's head
    at commit. A decision by one of those reviewers takes the head at its own commit, then
    references its actor (audit entry, status change): that reference must not wait for
    the routing's lock, or each waits for the other (PostgreSQL's deadlock detector then
    aborts one of them; seen as 503s on approvals while workers were being killed)."""
    county, city = make_staff("reviewer", "320402"), make_staff("reviewer", "320400")
    county_token, city_token = api.token(county.email), api.token(city.email)
    routed, waiting = submitted_and_scored(api, batch)[0], submitted_and_scored(api, batch)[0]
    for application_id in (routed, waiting):
        assert decide(api, county_token, application_id, "forward").status_code == 201
    assert route(routed) == "assigned"
    version = api.get(f"/applications/{routed}", token=city_token).get_json()["version"]

    locked, decided = threading.Event(), threading.Event()
    original = routing.choose

    def choose_then_linger(subjects, now):
        chosen = original(subjects, now)
        locked.set()
        # Long enough for the decision to reach the audit chain's head; it should not
        # need to wait for this routing at all.
        outcome.append("decided while routing" if decided.wait(3) else "decision waited")
        return chosen

    outcome: list = []
    monkeypatch.setattr(routing, "choose", choose_then_linger)

    def route_in_a_worker():
        with app.app_context():
            try:
                outcome.append(route(waiting))
            except Exception as exc:          # noqa: BLE001 - reported by the assertion below
                outcome.append(exc)
            finally:
                db.session.remove()

    worker = threading.Thread(target=route_in_a_worker)
    worker.start()
    try:
        assert locked.wait(10), outcome
        approved = decide(api, city_token, routed, "approve", version=version)
        decided.set()
    finally:
        decided.set()
        worker.join(30)
    assert approved.status_code == 201, approved.get_json()
    assert outcome == ["decided while routing", "assigned"]
    assert audit.verify()[1] is None
