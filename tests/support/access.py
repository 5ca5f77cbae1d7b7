"""The access matrix's world: an application of a firm in 天宁区 (320402, 常州市 320400) and
every role and scope as a caller ("other_*": the same role in 320411 or 320100); `expect`
turns a table of the cells that differ into the parametrisation of one endpoint."""
from __future__ import annotations

from sqlalchemy import select

from rating import clock
from rating.extensions import db
from rating.models import Rating
from rating.services.accounts.signin import issue_token
from rating.services.ratings import certificates
from tests.support.factories import make_batch, make_staff
from tests.support.flows import decide, scored


ROLES = {
    "county_reviewer": ("reviewer", "320402"), "other_county_reviewer": ("reviewer", "320411"),
    "city_reviewer": ("reviewer", "320400"), "other_city_reviewer": ("reviewer", "320100"),
    "province_reviewer": ("reviewer", "320000"), "expert": ("expert", "320400"),
    "county_official": ("official", "320402"), "city_official": ("official", "320400"),
    "other_city_official": ("official", "320100"), "province_official": ("official", "320000"),
    "admin": ("admin", None),
}
CALLERS = ("anonymous", "firm", "other_firm", *ROLES)


def make_world(api, app) -> dict:
    """The matrix's world (the `access_world` fixture): its batch, the staff, everyone's token, the application."""
    batch = make_batch("js-2024")
    staff = {name: make_staff(role, code) for name, role, code in ((n, *v) for n, v in ROLES.items())}
    tokens = {name: issue_token(user)[0] for name, user in staff.items()}   # the token API is tested elsewhere
    db.session.commit()
    tokens["anonymous"] = None
    tokens["other_firm"] = api.register_firm("320411")[1]
    application_id, tokens["firm"] = scored(api, batch, 3)
    return {"batch": batch, "tokens": tokens, "staff": staff, "application_id": application_id}


def approved(api, world) -> int:
    tokens, application_id = world["tokens"], world["application_id"]
    assert decide(api, tokens["county_reviewer"], application_id, "forward").status_code == 201
    assert decide(api, tokens["city_reviewer"], application_id, "approve").status_code == 201
    return application_id


def notice(api, world) -> int:
    today = clock.today().isoformat()
    created = api.post("/publicity-notices", {"title": "公示", "application_ids": [approved(api, world)],
                                              "starts_on": today, "ends_on": today},
                       token=world["tokens"]["city_official"])
    assert created.status_code == 201
    return created.get_json()["id"]


def expect(table: dict[str, int], default: int) -> list[tuple[str, int]]:
    assert set(table) <= set(CALLERS)
    return [(caller, table.get(caller, default)) for caller in CALLERS]


def rated(api, world, render: bool = False) -> str:
    """The firm's application, through a closed notice, as a rating (with its certificate rendered)."""
    notice_id = notice(api, world)
    assert api.post(f"/publicity-notices/{notice_id}/close", token=world["tokens"]["city_official"]).status_code == 200
    db.session.expire_all()
    rating = db.session.execute(select(Rating).where(Rating.application_id == world["application_id"])).scalar_one()
    if render:
        assert certificates.render(rating.id) == "rendered"
    return rating.certificate_no
