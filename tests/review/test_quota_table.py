"""Quotas read back (GET /batch-quotas: cap, used, remaining in the caller's scope), a
percentage of the county's registered firms, and a cap that may not fall below what is
already approved (409 with the figures), audited, on PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from rating.extensions import db
from rating.models import AuditEntry
from tests.support.factories import make_staff
from tests.support.flows import decide, scored

pytestmark = pytest.mark.integration


@pytest.fixture()
def people(api, app):
    users = {name: make_staff(role, code) for name, role, code in [
        ("county", "reviewer", "320402"), ("city", "reviewer", "320400"),
        ("official", "official", "320400"), ("other_official", "official", "320100"),
        ("admin", "admin", None),
    ]}
    return {name: api.token(user.email) for name, user in users.items()}


def approved_one(api, batch, people) -> int:
    application_id, _ = scored(api, batch, 3)
    assert decide(api, people["county"], application_id, "forward").status_code == 201
    assert decide(api, people["city"], application_id, "approve").status_code == 201
    return application_id


def test_quotas_read_back_with_used_and_remaining_in_scope(api, batch, people):
    for district, count in (("320402", 3), ("320411", 1)):
        assert api.post("/batch-quotas", {"batch_id": batch.id, "district_code": district, "level": 3,
                                          "max_count": count}, token=people["official"]).status_code == 201
    approved_one(api, batch, people)
    rows = api.get(f"/batch-quotas?batch_id={batch.id}", token=people["official"]).get_json()
    assert rows == [{"batch_id": batch.id, "district_code": "320402", "level": 3, "cap": 3, "used": 1, "remaining": 2},
                    {"batch_id": batch.id, "district_code": "320411", "level": 3, "cap": 1, "used": 0, "remaining": 1}]
    assert api.get(f"/batch-quotas?batch_id={batch.id}", token=people["admin"]).get_json() == rows
    assert api.get(f"/batch-quotas?batch_id={batch.id}", token=people["other_official"]).get_json() == []
    assert api.get(f"/batch-quotas?batch_id={batch.id}", token=people["county"]).status_code == 403
    assert api.get("/batch-quotas", token=people["official"]).status_code == 422
    assert api.get("/batch-quotas?batch_id=999999", token=people["official"]).status_code == 404


def test_a_cap_below_the_approved_is_refused_with_the_figures(api, batch, people):
    body = {"batch_id": batch.id, "district_code": "320402", "level": 3, "max_count": 2}
    assert api.post("/batch-quotas", body, token=people["official"]).status_code == 201
    approved_one(api, batch, people)
    approved_one(api, batch, people)
    refused = api.post("/batch-quotas", {**body, "max_count": 1}, token=people["official"])
    assert refused.status_code == 409
    message = refused.get_json()["error"]["message"]
    assert "已通过 2 家" in message and "拟设 1 家" in message and "天宁区" in message
    rows = api.get(f"/batch-quotas?batch_id={batch.id}", token=people["official"]).get_json()
    assert rows[0]["cap"] == 2 and rows[0]["remaining"] == 0
    assert api.post("/batch-quotas", {**body, "max_count": 5}, token=people["official"]).status_code == 201
    entries = db.session.execute(select(AuditEntry).where(AuditEntry.action == "quota.set")
                                 .order_by(AuditEntry.id)).scalars().all()
    assert len(entries) == 2 and "previous_cap" in entries[-1].payload
    assert [e.payload.replace(" ", "").count('"cap":5') for e in entries] == [0, 1]


def test_a_percentage_of_the_registered_firms(api, batch, people):
    for _ in range(4):
        api.register_firm("320402")
    created = api.post("/batch-quotas", {"batch_id": batch.id, "district_code": "320402", "level": 3,
                                         "percent": 50, "base_source": "firms"}, token=people["official"])
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["base_count"] == 4 and created.get_json()["cap"] == 2
    assert created.get_json()["base_source"] == "firms"
    assert api.post("/batch-quotas", {"batch_id": batch.id, "district_code": "320402", "level": 3,
                                      "percent": 50, "base_source": "guess"},
                    token=people["official"]).status_code == 422
