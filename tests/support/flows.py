"""The path of an application, as the firm and the officials walk it through the API: filed,
submitted and scored, decided at each stage, approved, publicised into a rating."""
from __future__ import annotations

import io
import time
from datetime import timedelta

from sqlalchemy import func, select

from rating import clock
from rating.extensions import db
from rating.models import ApplicationScore, Rating
from rating.services.reference import get_edition
from rating.services.review import routing, scoring_runs
from tests.support.factories import PDF_BYTES, good_application, grant_rating
from tests.support.people import csrf_token


def create(api, token, body):
    return api.post("/applications", body, token=token)


def upload(api, token, application_id, data: bytes, name="evidence.pdf", indicator=None):
    form = {"file": (io.BytesIO(data), name)}
    if indicator:
        form["indicator_code"] = indicator
    return api.client.post(f"/api/v1/applications/{application_id}/evidence", data=form,
                           headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data")


def file_everything(api, token, batch, level=3) -> dict:
    """Create a complete application with evidence for every indicator that needs it."""
    created = create(api, token, good_application(batch, level))
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    for indicator in get_edition(batch.edition_code).indicators_for(level):
        if indicator.evidence_required:
            assert upload(api, token, body["id"], PDF_BYTES, indicator=indicator.code).status_code == 201
    return body


def scored(api, batch, level: int, before_submit=None) -> tuple[int, str]:
    """A filed application submitted, scored and routed to the county; `before_submit(token,
    application_id)` may add to it first (more evidence, say)."""
    firm, token = api.register_firm("320402")
    for held in range(3, level):
        grant_rating(firm["id"], held)
    body = file_everything(api, token, batch, level)
    if before_submit is not None:
        before_submit(token, body["id"])
    assert api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token).status_code == 202
    outcome = scoring_runs.score_application(body["id"])
    if outcome != "scored":
        # The browser tests run a real worker, whose published job may score it first
        # ("duplicate"), or be scoring it now ("skipped": it holds the row; a flaky failure
        # when counted before its commit): then it is scored exactly once, by that job.
        assert outcome in ("duplicate", "skipped"), outcome
        deadline = time.monotonic() + 60
        while True:
            db.session.rollback()
            scores = db.session.execute(select(func.count()).select_from(ApplicationScore)
                                        .where(ApplicationScore.application_id == body["id"])).scalar_one()
            if scores or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert scores == 1, (outcome, scores)
    route(body["id"])
    return body["id"], token


def route(application_id: int) -> str:
    """Route the application as the route_application task does: the use case, then the commit."""
    outcome = routing.route(application_id)
    db.session.commit()
    return outcome


def decide(api, token, application_id, decision, comment="", version=None, **extra):
    if version is None:
        version = api.get(f"/applications/{application_id}", token=token).get_json()["version"]
    return api.post(f"/applications/{application_id}/decisions",
                    {"decision": decision, "comment": comment, "version": version, **extra}, token=token)


def approved(api, batch, people, level=3) -> tuple[int, str]:
    application_id, firm = scored(api, batch, level)
    assert decide(api, people["county"], application_id, "forward").status_code == 201
    if level == 5:
        assert decide(api, people["city"], application_id, "forward").status_code == 201
        assert decide(api, people["province"], application_id, "approve").status_code == 201
    else:
        assert decide(api, people["city"], application_id, "approve").status_code == 201
    return application_id, firm


def notice_body(ids, days=0, **extra):
    today = clock.today()
    return {"title": "2026年度第一批星级上云企业拟认定名单公示", "application_ids": ids,
            "starts_on": today.isoformat(), "ends_on": (today + timedelta(days=days)).isoformat(), **extra}


def close_notice(api, people, ids, official="city_official") -> list[str]:
    notice_id = api.post("/publicity-notices", notice_body(ids), token=people[official]).get_json()["id"]
    closed = api.post(f"/publicity-notices/{notice_id}/close", token=people[official])
    assert closed.status_code == 200, closed.get_json()
    db.session.expire_all()
    numbers = dict(db.session.execute(select(Rating.application_id, Rating.certificate_no)).all())
    return [numbers[i] for i in ids]


def export(client, **fields):
    page = client.get("/dashboard")
    data = {"csrf_token": csrf_token(page.text), "format": "xlsx", "level": "", "status": "valid", "year": ""}
    data.update(fields)
    return client.post("/exports", data=data)
