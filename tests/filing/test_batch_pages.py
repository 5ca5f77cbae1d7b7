"""The batch pages: a province official opens a batch from the form (errors beside their field,
nothing written), copies one, edits, closes it early; a city official sets the city's deadline;
others get 403."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from rating import clock
from rating.extensions import db
from rating.models import AuditEntry, Batch, BatchCityDeadline
from tests.support.factories import make_staff
from tests.support.people import csrf_token, logged_in

pytestmark = pytest.mark.integration


def _form(page_text: str, **overrides) -> dict:
    today = clock.today()
    data = {"csrf_token": csrf_token(page_text), "name": "页面新建批次", "guide_edition": "js-2024",
            "opens_at": clock.local(clock.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": clock.local(clock.now() + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M"),
            "usage_cutoff": today.isoformat(), "investment_from": f"{today.year - 1}-01-01",
            "investment_to": today.isoformat(), "review_days_county": "10", "review_days_city": "20",
            "review_days_province": "30", "levels": ["3", "4"]}
    return {**data, **overrides}


def test_a_province_official_runs_batches_from_the_pages(app):
    client = logged_in(app, make_staff("official", "320000").email)
    page = client.get("/batches/new")
    assert page.status_code == 200
    bad = client.post("/batches/new", data=_form(page.text, closes_at="2000-01-01T00:00"))
    assert bad.status_code == 422 and "截止时间必须晚于开始时间" in bad.text
    assert db.session.execute(select(Batch)).first() is None
    assert client.post("/batches/new", data=_form(page.text)).status_code == 302
    batch = db.session.execute(select(Batch)).scalar_one()
    assert batch.levels == [3, 4]
    listing = client.get("/batches")
    assert "页面新建批次" in listing.text and "受理中" in listing.text
    copy = client.get(f"/batches/new?copy={batch.id}")
    assert copy.status_code == 200 and 'value="页面新建批次"' in copy.text
    assert f'value="{batch.year + 1}-' in copy.text[copy.text.index('name="opens_at"') - 80:][:200], copy.text[copy.text.index('name="opens_at"') - 80:][:200]
    batch.closes_at = batch.closes_at.replace(second=42)            # as the API may set it
    db.session.commit()
    edit = client.get(f"/batches/{batch.id}/edit")
    shown = {key: clock.local(getattr(batch, key)).strftime("%Y-%m-%dT%H:%M") for key in ("opens_at", "closes_at")}
    assert client.post(f"/batches/{batch.id}/edit", data=_form(edit.text, name="改名的批次", **shown)
                       ).status_code == 302
    actions = db.session.execute(select(AuditEntry.action).where(AuditEntry.object_type == "batch")).scalars()
    assert "batch.closed_early" not in set(actions)         # an unchanged time on the page is no change
    closed = client.post(f"/batches/{batch.id}/close", data={"csrf_token": csrf_token(listing.text)})
    assert closed.status_code == 302
    db.session.expire_all()
    assert batch.name == "改名的批次" and not batch.is_open_at(clock.now())


def test_a_city_official_sets_the_city_deadline_and_others_may_not_open_batches(app, batch):
    city = logged_in(app, make_staff("official", "320400").email)
    assert city.get("/batches").status_code == 200
    assert city.get("/batches/new").status_code == 403
    page = city.get(f"/batches/{batch.id}/city-deadline")
    assert page.status_code == 200
    outside = clock.local(batch.closes_at + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    refused = city.post(f"/batches/{batch.id}/city-deadline", data={"csrf_token": csrf_token(page.text),
                                                                    "closes_at": outside})
    assert refused.status_code == 422 and "城市截止时间必须在批次受理期间内" in refused.text
    inside = clock.local(batch.closes_at - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert city.post(f"/batches/{batch.id}/city-deadline", data={"csrf_token": csrf_token(page.text),
                                                                 "closes_at": inside}).status_code == 302
    assert db.session.get(BatchCityDeadline, (batch.id, "320400")) is not None
    county = logged_in(app, make_staff("official", "320402").email)
    assert county.get(f"/batches/{batch.id}/city-deadline").status_code == 403
    reviewer = logged_in(app, make_staff("reviewer", "320400").email)
    assert reviewer.get("/batches").status_code == 403


def test_a_firm_whose_city_closed_the_batch_is_no_longer_offered_it(app, api, batch):
    city = api.token(make_staff("official", "320400").email)
    _, changzhou = api.register_firm("320402", email="changzhou-firm@example.com")
    _, nanjing = api.register_firm("320102", email="nanjing-firm@example.com")
    past = clock.local(batch.opens_at + timedelta(minutes=1)).isoformat()
    assert api.put(f"/batches/{batch.id}/city-deadlines/320400", {"closes_at": past}, token=city).status_code == 200
    assert batch.name not in logged_in(app, "changzhou-firm@example.com").get("/applications/").text
    assert batch.name in logged_in(app, "nanjing-firm@example.com").get("/applications/").text
