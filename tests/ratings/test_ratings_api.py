"""Ratings on PostgreSQL: certificate numbers from a closed notice, the scoped list, revocation, verification."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from rating import clock
from rating.extensions import db
from rating.models import CertificateSerial, Rating
from tests.support.factories import make_staff
from tests.support.flows import approved, notice_body
from tests.support.people import firm_email

pytestmark = pytest.mark.integration


@pytest.fixture()
def rating_people(api, app):
    users = {name: make_staff(role, code) for name, role, code in [
        ("county", "reviewer", "320402"), ("city", "reviewer", "320400"), ("province", "reviewer", "320000"),
        ("city_official", "official", "320400"), ("other_city_official", "official", "320100"),
        ("province_official", "official", "320000"),
    ]}
    return {name: api.token(user.email) for name, user in users.items()}


def rate(api, rating_people, ids) -> list[str]:
    notice_id = api.post("/publicity-notices", notice_body(ids), token=rating_people["city_official"]).get_json()["id"]
    assert api.post(f"/publicity-notices/{notice_id}/close", token=rating_people["city_official"]).status_code == 200
    db.session.expire_all()
    numbers = dict(db.session.execute(select(Rating.application_id, Rating.certificate_no)).all())
    return [numbers[i] for i in ids]


def test_numbers_verification_and_revocation(api, batch, rating_people):
    ids = [approved(api, batch, rating_people)[0] for _ in range(2)]
    firm = api.get(f"/applications/{ids[0]}", token=rating_people["city_official"]).get_json()
    first, second = rate(api, rating_people, ids)
    year = batch.year
    assert (first, second) == (f"JS-{year}-{batch.number}-3-000001", f"JS-{year}-{batch.number}-3-000002")
    assert db.session.get(CertificateSerial, ("320000", year)).last == 2

    public = api.get(f"/verify/{first}")                    # no login
    assert public.status_code == 200
    assert public.get_json() == {"certificate_no": first, "enterprise_name": firm["enterprise_name"], "level": 3,
                                 "status": "valid", "granted_on": clock.today().isoformat(),
                                 "valid_until": public.get_json()["valid_until"], "status_changed_on": None}
    assert api.get("/verify/JS-2000-1-3-999999").status_code == 404
    page = api.client.get(f"/verify/{first}")
    assert page.status_code == 200 and firm["enterprise_name"] in page.text and "有效" in page.text
    assert api.client.get("/verify/nope").status_code == 404

    detail = api.get(f"/ratings/{first}", token=rating_people["city_official"]).get_json()
    assert detail["certificate"] == {"state": "pending", "sha256": None, "size": None}
    assert detail["enterprise"]["name"] == firm["enterprise_name"] and detail["status"] == "valid"
    assert api.get(f"/ratings/{first}", token=rating_people["other_city_official"]).status_code == 404

    assert api.post(f"/ratings/{first}/revoke", {"reason": "x"}, token=rating_people["other_city_official"]).status_code == 404
    assert api.post(f"/ratings/{first}/revoke", {"reason": "x"}, token=rating_people["city"]).status_code == 403
    assert api.post(f"/ratings/{first}/revoke", {}, token=rating_people["city_official"]).status_code == 422
    revoked = api.post(f"/ratings/{first}/revoke", {"reason": "材料造假", "blacklist_enterprise": True},
                       token=rating_people["city_official"])
    assert revoked.status_code == 200 and revoked.get_json() == {"status": "revoked"}
    assert api.post(f"/ratings/{first}/revoke", {"reason": "again"}, token=rating_people["city_official"]).status_code == 409
    after = api.get(f"/verify/{first}").get_json()
    assert after["status"] == "revoked" and after["status_changed_on"] == clock.today().isoformat()
    assert "已撤销" in api.client.get(f"/verify/{first}").text
    blacklisted = api.get("/blacklist", token=rating_people["city_official"]).get_json()
    assert [e["enterprise_id"] for e in blacklisted] == [firm["enterprise_id"]]


def test_the_list_is_scoped_and_filtered(api, batch, rating_people):
    ids = [approved(api, batch, rating_people)[0] for _ in range(2)]
    first, second = rate(api, rating_people, ids)
    body = api.get("/ratings", token=rating_people["city_official"]).get_json()
    assert body["total"] == 2 and {i["certificate_no"] for i in body["items"]} == {first, second}
    assert api.get("/ratings", token=rating_people["other_city_official"]).get_json()["total"] == 0
    assert api.get("/ratings?district=320402&level=3", token=rating_people["province_official"]).get_json()["total"] == 2
    assert api.get("/ratings?level=4", token=rating_people["province_official"]).get_json()["total"] == 0
    name = body["items"][0]["enterprise"]["name"]
    found = api.get("/ratings", token=rating_people["city_official"], query_string={"q": name}).get_json()
    assert [i["enterprise"]["name"] for i in found["items"]] == [name]
    assert api.get("/ratings?status=revoked", token=rating_people["city_official"]).get_json()["total"] == 0
    assert api.get("/ratings?status=valid", token=rating_people["city_official"]).get_json()["total"] == 2
    own = api.get("/ratings", token=api.token(firm_email(ids[0]))).get_json()
    assert own["total"] == 1
    for bad in ("level=x", "status=gone", "district=12", "page=0"):
        assert api.get(f"/ratings?{bad}", token=rating_people["city_official"]).status_code == 422, bad
    assert api.get("/ratings").status_code == 401


def test_superseded_and_expired_read_plainly(api, batch, rating_people):
    application_id, _firm = approved(api, batch, rating_people, 4)        # the firm holds 3★ already
    (number,) = rate(api, rating_people, [application_id])
    lower = db.session.execute(select(Rating).where(Rating.level == 3)).scalar_one()
    assert lower.status == "superseded" and lower.status_changed_on == clock.today()
    rating = db.session.execute(select(Rating).where(Rating.certificate_no == number)).scalar_one()
    # A rating whose last day has passed reads as expired.
    rating.granted_on = rating.granted_on.replace(year=rating.granted_on.year - 3)
    rating.valid_until = rating.granted_on.replace(year=rating.granted_on.year + 1)
    db.session.commit()
    assert api.get(f"/verify/{number}").get_json()["status"] == "expired"
    assert api.get("/ratings?status=expired", token=rating_people["city_official"]).get_json()["total"] == 1




def test_revoking_and_blacklisting_is_one_transaction(api, batch, rating_people, monkeypatch):
    """Revocation and the blacklist entries it asks for commit together or not at all: a
    failure at the last entry leaves the rating valid and nobody on the list; a party
    already on the list is skipped, and the revocation still happens."""
    from rating.services.review import blacklist

    application_id, _firm = approved(api, batch, rating_people)
    firm_id = api.get(f"/applications/{application_id}", token=rating_people["city_official"]).get_json()["enterprise_id"]
    (number,) = rate(api, rating_people, [application_id])
    official = rating_people["city_official"]
    flags = {"blacklist_enterprise": True, "blacklist_provider": True}
    flagged = blacklist.flagged_applications

    def fail_after_writing_the_second_provider(entry):
        if entry.provider_name == "徐工汉云":     # the firm and 天翼云 are written by now
            raise RuntimeError("injected failure after the blacklist insert")
        return flagged(entry)

    monkeypatch.setattr(blacklist, "flagged_applications", fail_after_writing_the_second_provider)
    assert api.post(f"/ratings/{number}/revoke", {"reason": "材料造假", **flags}, token=official).status_code == 500
    monkeypatch.undo()
    assert api.get(f"/verify/{number}").get_json()["status"] == "valid"
    assert api.get("/blacklist", token=official).get_json() == []

    listed = api.post("/blacklist", {"provider_name": "天翼云", "reason": "早已列入"}, token=official)
    assert listed.status_code == 201
    revoked = api.post(f"/ratings/{number}/revoke", {"reason": "材料造假", **flags}, token=official)
    assert revoked.status_code == 200 and revoked.get_json() == {"status": "revoked"}
    assert api.get(f"/verify/{number}").get_json()["status"] == "revoked"
    entries = api.get("/blacklist", token=official).get_json()
    assert sorted((e["enterprise_id"] or 0, e["provider_name"] or "", e["reason"]) for e in entries) == sorted([
        (firm_id, "", "材料造假"), (0, "天翼云", "早已列入"), (0, "徐工汉云", "材料造假")])
