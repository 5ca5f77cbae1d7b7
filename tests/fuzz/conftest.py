"""The world the fuzzers attack: one object of every kind a form or an endpoint acts on, with
the people who may act on it."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from rating.extensions import db
from rating.models import ApiToken, EnterpriseClaim, Evidence, Objection, Provider, Rating, User
from rating.rules.uscc import uscc_from_serial
from rating.services.reporting import imports
from rating.services.accounts.password_reset import reset_token
from tests.support.factories import PASSWORD, PDF_BYTES, make_batch, make_staff
from tests.support.files import csv_bytes
from tests.support.flows import approved, decide, notice_body, route, scored, upload

FIRM_EMAIL = "fuzz-firm@example.com"
CLAIMED = uscc_from_serial(9201, division="320402")


@dataclass
class World:
    emails: dict[str, str]     # who → login email (password: tests.support.factories.PASSWORD)
    tokens: dict[str, str]     # who → bearer token
    ids: dict[str, object]     # what → id, named like the route variables where there is one


@pytest.fixture()
def world(app, api) -> World:
    """A batch; a firm's draft with one evidence file; applications at the county and at the city
    (with an expert assigned); a rating; a running notice with an objection; a blacklist entry."""
    batch = make_batch("js-2024")
    staff = {"county": make_staff("reviewer", "320402"), "city": make_staff("reviewer", "320400"),
             "province": make_staff("reviewer", "320000"), "official": make_staff("official", "320400"),
             "expert": make_staff("expert", "320400"), "resetting": make_staff("reviewer", "320411"),
             "account": make_staff("reviewer", "320411"), "admin": make_staff("admin", None)}
    tokens = {who: api.token(user.email) for who, user in staff.items()}
    official = tokens["official"]

    at_county, _firm = scored(api, batch, 3)
    at_city, _firm = scored(api, batch, 3)
    assert decide(api, tokens["county"], at_city, "forward").status_code == 201
    route(at_city)
    expert = api.post(f"/applications/{at_city}/experts", {"expert_ids": [staff["expert"].id]},
                      token=official)
    assert expert.status_code == 201, expert.get_json()

    rated, _firm = approved(api, batch, tokens)
    publicised, _firm = approved(api, batch, tokens)
    closed = api.post("/publicity-notices", notice_body([rated]), token=official).get_json()
    assert api.post(f"/publicity-notices/{closed['id']}/close", token=official).status_code == 200
    notice = api.post("/publicity-notices", notice_body([publicised], days=5), token=official).get_json()
    objection = api.post(f"/publicity-notices/{notice['id']}/objections",
                         {"application_id": publicised, "name": "张三", "contact": "13900000000",
                          "reason": "该企业未实际使用云服务。"})
    assert objection.status_code == 201, objection.get_json()
    entry = api.post("/blacklist", {"provider_name": "某违规云服务商", "reason": "虚开发票"}, token=official)
    assert entry.status_code == 201, entry.get_json()

    firm, firm_token = api.register_firm("320402", email=FIRM_EMAIL)
    draft = api.post("/applications", {"batch_id": batch.id, "target_level": 3}, token=firm_token).get_json()
    assert upload(api, firm_token, draft["id"], PDF_BYTES, "合同.pdf").status_code == 201
    route(at_county)

    # A firm known only from an imported list, and someone's pending claim of it.
    imports.run("list.csv", csv_bytes([["常州导入企业有限公司", CLAIMED, "320402", "3", "2024", "", "", ""]]))
    db.session.commit()
    claim = api.post("/enterprises", {"name": "常州导入企业有限公司", "uscc": CLAIMED, "district_code": "320402",
                                      "industry": "C", "scale": "small", "contact_name": "王工",
                                      "contact_phone": "13800000000", "email": "fuzz-claim@example.com",
                                      "password": PASSWORD})
    assert claim.status_code == 202, claim.get_json()

    conflict = api.post("/reviewer-conflicts", {"group_name": "某集团"}, token=tokens["county"])
    assert conflict.status_code == 201, conflict.get_json()
    provider = Provider(name="某云")
    db.session.add(provider)
    db.session.commit()

    evidence = select(Evidence.id).where(Evidence.application_id == draft["id"])
    certificate = select(Rating.certificate_no).where(Rating.application_id == rated)
    return World(
        emails={"firm": FIRM_EMAIL, **{who: user.email for who, user in staff.items()}},
        tokens={"firm": firm_token, **tokens},
        ids={"application_id": draft["id"], "at_county": at_county, "at_city": at_city,
             "publicised": publicised, "notice_id": notice["id"], "enterprise_id": firm["id"],
             "objection_id": db.session.scalar(select(Objection.id)),
             "evidence_id": db.session.scalar(evidence), "certificate_no": db.session.scalar(certificate),
             "entry_id": entry.get_json()["id"], "batch_id": batch.id, "code": batch.edition_code,
             "reset_token": reset_token(staff["resetting"]),
             "token_id": db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == staff["account"].id)),
             "claim_id": db.session.scalar(select(EnterpriseClaim.id)),
             "staff_id": staff["account"].id,
             "conflict_id": conflict.get_json()["id"], "provider_id": provider.id,
             "firm_user_id": db.session.scalar(select(User.id).where(User.email == FIRM_EMAIL))},
    )
