"""Batches run by the province through the JSON API: opening one, validation naming the field,
terms that freeze once a firm has filed, extending and closing early (audited), the levels a
batch offers and a city's own deadline, which its firms' submissions obey (API.md, "Running
the programme")."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rating import clock
from rating.extensions import db
from rating.models import AuditEntry
from rating.services.reference import get_batch
from tests.support.factories import good_application, make_staff
from tests.support.flows import create, file_everything

pytestmark = pytest.mark.integration


def _body(**overrides) -> dict:
    today = clock.today()
    body = {"name": f"{today.year}年度第二批", "guide_edition": "js-2024",
            "opens_at": (clock.now() - timedelta(hours=1)).isoformat(),
            "closes_at": (clock.now() + timedelta(days=30)).isoformat(),
            "usage_cutoff": today.isoformat(), "investment_from": f"{today.year - 1}-01-01",
            "investment_to": today.isoformat(), "review_days": {"county": 7, "city": 14, "province": 21}}
    return {**body, **overrides}


@pytest.fixture()
def province(api, app):
    return api.token(make_staff("official", "320000").email)


def test_a_province_official_opens_a_batch_that_firms_see(api, province):
    answer = api.post("/batches", _body(), token=province)
    assert answer.status_code == 201, answer.get_json()
    created = answer.get_json()
    assert created["review_days"] == {"county": 7, "city": 14, "province": 21}
    assert created["levels"] == [3, 4, 5] and created["application_count"] == 0 and created["is_open"]
    listed = {b["id"]: b for b in api.get("/batches").get_json()}
    assert listed[created["id"]]["review_days"]["city"] == 14
    actions = db.session.execute(select(AuditEntry.action).where(AuditEntry.object_type == "batch")).scalars()
    assert "batch.created" in set(actions)


def test_validation_names_each_field(api, province):
    today = clock.today()
    answer = api.post("/batches", _body(closes_at=(clock.now() - timedelta(days=2)).isoformat(),
                                        investment_to=(today + timedelta(days=1)).isoformat(),
                                        levels=[3, 9]), token=province)
    assert answer.status_code == 422
    fields = answer.get_json()["error"]["fields"]
    assert {"closes_at", "investment_to", "levels"} <= set(fields), fields
    days = api.post("/batches", _body(review_days={"county": 0, "city": 14, "province": 400}), token=province)
    assert set(days.get_json()["error"]["fields"]) == {"review_days.county", "review_days.province"}
    unknown = api.post("/batches", _body(guide_edition="nope-1"), token=province)
    assert unknown.status_code == 422 and "guide_edition" in unknown.get_json()["error"]["fields"]
    missing = api.post("/batches", {"name": "x"}, token=province)
    assert missing.status_code == 422 and "opens_at" in missing.get_json()["error"]["fields"]
    assert api.get("/batches").get_json() == []                       # nothing written on refusal


def test_only_province_officials_and_admins_open_or_edit_batches(api, batch):
    city = api.token(make_staff("official", "320400").email)
    reviewer = api.token(make_staff("reviewer", "320000").email)
    admin = api.token(make_staff("admin", None).email)
    assert api.post("/batches", _body(), token=city).status_code == 403
    assert api.post("/batches", _body(), token=reviewer).status_code == 403
    assert api.patch(f"/batches/{batch.id}", {"name": "改名"}, token=city).status_code == 403
    assert api.post("/batches", _body(), token=admin).status_code == 201


def test_terms_freeze_once_filed_but_the_deadline_moves(api, province, batch):
    assert api.patch(f"/batches/{batch.id}", {"usage_cutoff": batch.usage_cutoff.isoformat(),
                                              "name": "新名称"}, token=province).status_code == 200
    firm, token = api.register_firm("320402")
    file_everything(api, token, batch, 3)
    frozen = api.patch(f"/batches/{batch.id}", {"investment_from": "2020-01-01"}, token=province)
    assert frozen.status_code == 409 and "investment_from" in frozen.get_json()["error"]["fields"]
    later = clock.local(batch.closes_at) + timedelta(days=5)
    extended = api.patch(f"/batches/{batch.id}", {"closes_at": later.isoformat()}, token=province)
    assert extended.status_code == 200, extended.get_json()
    assert extended.get_json()["application_count"] == 1
    closed = api.patch(f"/batches/{batch.id}", {"closes_at": clock.now().isoformat()}, token=province)
    assert closed.status_code == 200 and not closed.get_json()["is_open"]
    actions = set(db.session.execute(select(AuditEntry.action).where(AuditEntry.object_type == "batch")).scalars())
    assert {"batch.extended", "batch.closed_early", "batch.updated"} <= actions


def test_firms_choose_only_offered_levels(api, province):
    created = api.post("/batches", _body(levels=[4, 5]), token=province).get_json()
    assert created["levels"] == [4, 5]
    firm, token = api.register_firm("320402")
    refused = create(api, token, good_application(get_batch(created["id"]), 3))
    assert refused.status_code == 422 and "target_level" in refused.get_json()["error"]["fields"]


def test_a_city_deadline_inside_the_window_binds_that_city_s_firms(api, batch):
    city = api.token(make_staff("official", "320400").email)
    other_city = api.token(make_staff("official", "320100").email)
    county = api.token(make_staff("official", "320402").email)
    soon = clock.local(clock.now() + timedelta(days=1)).isoformat()
    path = f"/batches/{batch.id}/city-deadlines/320400"
    assert api.put(path, {"closes_at": soon}, token=other_city).status_code == 403
    assert api.put(path, {"closes_at": soon}, token=county).status_code == 403
    outside = clock.local(batch.closes_at + timedelta(days=1)).isoformat()
    assert api.put(path, {"closes_at": outside}, token=city).status_code == 422
    assert api.put(path, {"closes_at": soon}, token=city).status_code == 200
    # 常州's firms may no longer file once its own deadline has passed; 南京's still may.
    past = clock.local(batch.opens_at + timedelta(minutes=1)).isoformat()
    assert api.put(path, {"closes_at": past}, token=city).status_code == 200
    _, changzhou = api.register_firm("320402")
    refused = create(api, changzhou, good_application(batch, 3))
    assert refused.status_code == 422 and "batch_id" in refused.get_json()["error"]["fields"]
    _, nanjing = api.register_firm("320102")
    assert create(api, nanjing, good_application(batch, 3)).status_code == 201


def test_the_database_refuses_an_investment_window_after_the_cut_off(app, batch):
    batch.investment_to = batch.usage_cutoff + timedelta(days=1)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
