"""The access matrix of the batch endpoints (issue 28): province officials and administrators open
and edit batches; a city's own deadline is its officials' (and those above them), for every role
and scope of tests/support/access.py."""
from __future__ import annotations

from datetime import timedelta

import pytest

from rating import clock
from tests.support.access import expect
from tests.support.people import logged_in

pytestmark = pytest.mark.integration

BATCH_MANAGERS = {"province_official": 201, "admin": 201, "anonymous": 401}


def _terms() -> dict:
    today = clock.today()
    return {"name": "矩阵批次", "guide_edition": "js-2024", "opens_at": clock.now().isoformat(),
            "closes_at": (clock.now() + timedelta(days=20)).isoformat(), "usage_cutoff": today.isoformat(),
            "investment_from": f"{today.year - 1}-01-01", "investment_to": today.isoformat(),
            "review_days": {"county": 10, "city": 20, "province": 30}}


@pytest.mark.parametrize("caller, status", expect(BATCH_MANAGERS, 403))
def test_create_batch(api, access_world, caller, status):
    assert api.post("/batches", _terms(), token=access_world["tokens"][caller]).status_code == status


@pytest.mark.parametrize("caller, status", expect({"province_official": 200, "admin": 200, "anonymous": 401}, 403))
def test_update_batch(api, access_world, caller, status):
    batch = access_world["batch"]
    later = clock.local(batch.closes_at + timedelta(days=3)).isoformat()
    response = api.patch(f"/batches/{batch.id}", {"closes_at": later}, token=access_world["tokens"][caller])
    assert response.status_code == status


@pytest.mark.parametrize("caller, status", expect(
    {"city_official": 200, "province_official": 200, "admin": 200, "anonymous": 401}, 403))
def test_set_city_deadline(api, access_world, caller, status):
    batch = access_world["batch"]
    soon = clock.local(batch.closes_at - timedelta(days=1)).isoformat()
    response = api.put(f"/batches/{batch.id}/city-deadlines/320400", {"closes_at": soon},
                       token=access_world["tokens"][caller])
    assert response.status_code == status


def _page_client(app, api, access_world, caller):
    """A browser-like client logged in as `caller` (a firm's user: a new firm of its county)."""
    if caller == "anonymous":
        return app.test_client()
    if caller in ("firm", "other_firm"):
        email = f"{caller.replace('_', '-')}-pages@example.com"
        api.register_firm("320402" if caller == "firm" else "320411", email=email)
    else:
        email = access_world["staff"][caller].email
    return logged_in(app, email)


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 302, "county_official": 200, "city_official": 200, "other_city_official": 200,
     "province_official": 200, "admin": 200}, 403))
def test_batch_list_page(app, api, access_world, caller, status):
    assert _page_client(app, api, access_world, caller).get("/batches").status_code == status


@pytest.mark.parametrize("caller, status", expect({"anonymous": 302, "province_official": 200, "admin": 200}, 403))
def test_batch_form_pages(app, api, access_world, caller, status):
    client = _page_client(app, api, access_world, caller)
    assert client.get("/batches/new").status_code == status
    assert client.get(f"/batches/{access_world['batch'].id}/edit").status_code == status


@pytest.mark.parametrize("caller, status", expect(
    {"anonymous": 302, "city_official": 200, "other_city_official": 200}, 403))
def test_city_deadline_page(app, api, access_world, caller, status):
    # Each city's official sets their own city's deadline on this page (南京's for 南京).
    path = f"/batches/{access_world['batch'].id}/city-deadline"
    assert _page_client(app, api, access_world, caller).get(path).status_code == status
