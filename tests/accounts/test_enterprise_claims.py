"""Claiming a firm known only from an imported ratings list: the account waits, seeing
nothing of the firm, until an official of the firm's county confirms the claim; the name and
county each rating certified stay what /verify and the certificate show."""
from __future__ import annotations

import threading

from sqlalchemy import select

import pytest

from rating.extensions import db
from rating.models import AuditEntry, ClaimStatus, Enterprise, EnterpriseClaim, OutboxEmail, Rating, User
from rating.services.ratings.certificate_pdf import certificate_html
from tests.support.claims import IMPORTED, IMPORTED_NAME, NUMBER, claim_body
from tests.support.factories import PASSWORD, grant_rating, make_batch, make_staff
from tests.support.people import csrf_token

pytestmark = pytest.mark.integration

def claim(api, email: str, **kwargs) -> str:
    """File a claim; the claimant's token."""
    response = api.post("/enterprises", claim_body(email, **kwargs))
    assert response.status_code == 202, response.get_json()
    return api.token(email)


def claim_of(email: str) -> EnterpriseClaim:
    db.session.expire_all()
    return db.session.execute(select(EnterpriseClaim).join(User, User.id == EnterpriseClaim.user_id)
                              .where(User.email == email)).scalar_one()


def page_login(app, email: str):
    client = app.test_client()
    page = client.get("/login")
    response = client.post("/login", data={"csrf_token": csrf_token(page.text), "email": email,
                                           "password": PASSWORD})
    assert response.status_code == 302, response.text
    return client


def test_registering_an_imported_code_is_a_pending_claim_that_sees_nothing(app, api, imported_firm):
    make_batch()
    response = api.post("/enterprises", claim_body("wang@yi.example"))
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"id": imported_firm.id, "status": "pending"}
    db.session.expire_all()
    firm = db.session.get(Enterprise, imported_firm.id)
    # The firm's row is as imported; what was typed waits on the claim.
    assert (firm.name, firm.district_code, firm.industry, firm.contact_name, firm.email) == (
        IMPORTED_NAME, "320402", None, None, None)
    pending = claim_of("wang@yi.example")
    assert (pending.status, pending.name, pending.district_code, pending.scale) == (
        "pending", "常州乙智造科技有限公司", "320411", "medium")
    assert pending.user.enterprise_id == firm.id and pending.user.role == "enterprise"
    assert db.session.execute(select(AuditEntry).where(AuditEntry.action == "enterprise.claim")).scalar_one()

    token = api.token("wang@yi.example")
    assert api.get("/ratings", token=token).get_json()["items"] == []
    assert api.get(f"/ratings/{NUMBER}", token=token).status_code == 404
    assert api.get(f"/ratings/{NUMBER}/certificate.pdf", token=token).status_code == 404
    batch_id = api.get("/batches").get_json()[0]["id"]
    refused = api.post("/applications", {"batch_id": batch_id, "target_level": 4}, token=token)
    assert refused.status_code == 403 and "确认" in refused.get_json()["error"]["message"]
    assert api.get("/applications", token=token).get_json()["items"] == []

    client = page_login(app, "wang@yi.example")
    dashboard = client.get("/applications/")
    assert dashboard.status_code == 200 and 'data-testid="claim-pending"' in dashboard.text
    assert "3★" not in dashboard.text and IMPORTED_NAME not in dashboard.text
    listing = client.get("/ratings/")
    assert NUMBER not in listing.text and 'data-testid="claim-pending"' in listing.text
    assert client.get(f"/ratings/{NUMBER}").status_code == 404
    assert client.get(f"/ratings/{NUMBER}/certificate.pdf").status_code == 404
    new = client.post("/applications/new", data={"csrf_token": csrf_token(dashboard.text), "batch_id": batch_id,
                                                 "target_level": 3}, follow_redirects=True)
    assert "等待所在县" in new.text


def test_the_html_registration_says_the_county_confirms_first(app, imported_firm):
    client = app.test_client()
    page = client.get("/register")
    response = client.post("/register", data={**claim_body("li@yi.example"), "confirm": PASSWORD,
                                              "csrf_token": csrf_token(page.text)}, follow_redirects=True)
    assert response.status_code == 200, response.text
    assert "主管部门确认" in response.text and 'data-testid="claim-pending"' in response.text
    assert claim_of("li@yi.example").status == "pending"


def test_several_may_claim_at_once_and_approval_refuses_the_others(app, api, imported_firm):
    squatter = claim(api, "squat@evil.example", name="冒名公司")
    real = claim(api, "wang@yi.example")
    county = api.token(make_staff("official", "320402").email)
    listed = api.get("/enterprise-claims", token=county).get_json()
    assert [(c["claimant_email"], c["status"], c["uscc"], c["enterprise_name"]) for c in listed] == [
        ("squat@evil.example", "pending", IMPORTED, IMPORTED_NAME), ("wang@yi.example", "pending", IMPORTED,
                                                                     IMPORTED_NAME)]
    answer = api.post(f"/enterprise-claims/{claim_of('wang@yi.example').id}/approve", {"comment": "已核营业执照"},
                      token=county)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "approved"
    loser = claim_of("squat@evil.example")
    assert loser.status == "rejected" and not loser.user.active
    assert api.get("/ratings", token=squatter).status_code == 401
    assert [i["certificate_no"] for i in api.get("/ratings", token=real).get_json()["items"]] == [NUMBER]
    # The firm is taken now.
    assert api.post("/enterprises", claim_body("late@yi.example")).status_code == 409


def test_an_official_of_another_county_neither_sees_nor_decides(app, api, imported_firm):
    claim(api, "wang@yi.example")
    claim_id = claim_of("wang@yi.example").id
    other = api.token(make_staff("official", "320411").email)
    nanjing = api.token(make_staff("official", "320100").email)
    reviewer = api.token(make_staff("reviewer", "320402").email)
    firm_token = api.token("wang@yi.example")
    for token in (other, nanjing):
        assert api.get("/enterprise-claims", token=token).get_json() == []
        assert api.post(f"/enterprise-claims/{claim_id}/approve", token=token).status_code == 404
        assert api.post(f"/enterprise-claims/{claim_id}/reject", token=token).status_code == 404
    for token in (reviewer, firm_token):
        assert api.get("/enterprise-claims", token=token).status_code == 403
        assert api.post(f"/enterprise-claims/{claim_id}/approve", token=token).status_code == 403
    assert api.post(f"/enterprise-claims/{claim_id}/approve").status_code == 401
    city = api.token(make_staff("official", "320400").email)
    assert [c["id"] for c in api.get("/enterprise-claims", token=city).get_json()] == [claim_id]
    # The HTML page neither lists nor decides it either.
    client = page_login(app, make_staff("official", "320411").email)
    page = client.get("/enterprise-claims/")
    assert page.status_code == 200 and f'data-testid="claim-{claim_id}"' not in page.text
    assert client.post(f"/enterprise-claims/{claim_id}", data={"csrf_token": csrf_token(page.text),
                                                               f"claim-{claim_id}-approve": "1"}).status_code == 404
    assert claim_of("wang@yi.example").status == "pending"


def test_approval_applies_the_record_and_verify_keeps_the_certified_name(app, api, imported_firm):
    token = claim(api, "wang@yi.example")
    county = make_staff("official", "320402")
    before = api.get("/totals?group_by=district").get_json()
    assert {r["key"]: r["count"] for r in before["rows"]}.get("320402") == 1

    # Approved through the officials' page, which shows both records and the imported rating.
    client = page_login(app, county.email)
    page = client.get("/enterprise-claims/")
    claim_id = claim_of("wang@yi.example").id
    assert IMPORTED_NAME in page.text and "常州乙智造科技有限公司" in page.text and NUMBER in page.text
    decision = {f"claim-{claim_id}-comment": "已核营业执照", f"claim-{claim_id}-approve": "确认认领"}
    assert client.post(f"/enterprise-claims/{claim_id}", data=decision).status_code == 400     # no CSRF token
    assert claim_of("wang@yi.example").status == "pending"
    response = client.post(f"/enterprise-claims/{claim_id}", data={**decision, "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    decided = claim_of("wang@yi.example")
    assert decided.status == ClaimStatus.approved and decided.decided_by_id == county.id
    firm = db.session.get(Enterprise, imported_firm.id)
    assert (firm.name, firm.district_code, firm.industry, firm.scale, firm.contact_name, firm.email) == (
        "常州乙智造科技有限公司", "320411", "I", "medium", "王工", "wang@yi.example")
    assert db.session.execute(select(AuditEntry).where(AuditEntry.action == "enterprise.claim_approve")).scalar_one()
    mail = db.session.execute(select(OutboxEmail).where(OutboxEmail.to_address == "wang@yi.example")).scalar_one()
    assert "确认" in mail.subject and IMPORTED in mail.body

    # The claimant sees the firm's ratings now; a second decision is refused.
    assert [i["certificate_no"] for i in api.get("/ratings", token=token).get_json()["items"]] == [NUMBER]
    assert api.get(f"/ratings/{NUMBER}", token=token).status_code == 200
    city = api.token(make_staff("official", "320400").email)
    assert api.post(f"/enterprise-claims/{claim_id}/reject", token=city).status_code == 409
    # Statistics count the firm where it is now; /verify shows what was certified.
    after = {r["key"]: r["count"] for r in api.get("/totals?group_by=district").get_json()["rows"]}
    assert after.get("320411") == 1 and not after.get("320402")
    assert api.get(f"/verify/{NUMBER}").get_json()["enterprise_name"] == IMPORTED_NAME
    assert IMPORTED_NAME in app.test_client().get(f"/verify/{NUMBER}").text


def test_rejection_deactivates_the_claimant(app, api, imported_firm):
    token = claim(api, "squat@evil.example")
    official = api.token(make_staff("official", "320402").email)
    claim_id = claim_of("squat@evil.example").id
    answer = api.post(f"/enterprise-claims/{claim_id}/reject", {"comment": "非该企业人员"}, token=official)
    assert answer.status_code == 200 and answer.get_json()["status"] == "rejected"
    assert answer.get_json()["comment"] == "非该企业人员"
    rejected = claim_of("squat@evil.example")
    assert not rejected.user.active and rejected.user.session_version == 1
    assert api.get("/ratings", token=token).status_code == 401
    assert api.post("/tokens", {"email": "squat@evil.example", "password": PASSWORD}).status_code == 401
    assert db.session.get(Enterprise, imported_firm.id).contact_name is None
    assert api.post(f"/enterprise-claims/{claim_id}/approve", token=official).status_code == 409
    assert [c["status"] for c in api.get("/enterprise-claims?status=rejected", token=official).get_json()] == [
        "rejected"]
    assert api.get("/enterprise-claims?status=nope", token=official).status_code == 422
    # The real firm may still claim it.
    claim(api, "wang@yi.example")


def test_a_rename_changes_neither_verify_nor_the_certificate(app, api):
    firm, _token = api.register_firm("320402", name="常州甲科技有限公司")
    rating = grant_rating(firm["id"], 3)
    rating.certificate_no = "JS-2025-1-3-000001"
    db.session.commit()
    assert (rating.certified_name, rating.certified_district_code) == ("常州甲科技有限公司", "320402")
    row = db.session.get(Enterprise, firm["id"])
    row.name, row.district_code = "常州甲新名称有限公司", "320411"
    db.session.commit()
    assert api.get("/verify/JS-2025-1-3-000001").get_json()["enterprise_name"] == "常州甲科技有限公司"
    page = app.test_client().get("/verify/JS-2025-1-3-000001").text
    assert "常州甲科技有限公司" in page and "常州甲新名称有限公司" not in page

    class Fetcher:
        def serve(self, name, data):
            return name

    db.session.expire_all()
    html, _text, _signature = certificate_html(db.session.get(Rating, rating.id), Fetcher())
    assert "常州甲科技有限公司" in html and "常州甲新名称有限公司" not in html



def _at_once(app, calls) -> list[int]:
    """Run each (method, path, body, token) request in its own thread, released together."""
    barrier, results = threading.Barrier(len(calls)), {}

    def run(index, method, path, body, token):
        client = app.test_client()
        barrier.wait()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        results[index] = getattr(client, method)(f"/api/v1{path}", json=body, headers=headers).status_code

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[i] for i in range(len(calls))]


def test_concurrent_claims_both_wait_and_concurrent_approvals_pick_one(app, api, imported_firm):
    assert _at_once(app, [("post", "/enterprises", claim_body("a@yi.example"), None),
                          ("post", "/enterprises", claim_body("b@yi.example", name="冒名公司"), None)]) == [202, 202]
    first, second = claim_of("a@yi.example"), claim_of("b@yi.example")
    assert first.status == second.status == "pending"
    # Two officials of the city (the firm may move county on approval, out of a county's sight).
    county, city = (api.token(make_staff("official", "320400").email) for _ in range(2))
    answers = _at_once(app, [("post", f"/enterprise-claims/{first.id}/approve", {}, county),
                             ("post", f"/enterprise-claims/{second.id}/approve", {}, city)])
    assert sorted(answers) == [200, 409]
    db.session.expire_all()
    decided = db.session.execute(select(EnterpriseClaim.status).order_by(EnterpriseClaim.id)).scalars().all()
    assert sorted(decided) == ["approved", "rejected"]
    users = db.session.execute(select(User.active).where(User.enterprise_id == imported_firm.id).order_by(User.id))
    assert sorted(users.scalars().all()) == [False, True]
