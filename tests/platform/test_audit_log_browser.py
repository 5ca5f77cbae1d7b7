"""The audit log browser: GET /audit and the pages, scoped, filtered, paged, exported, verified."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text

from rating.extensions import db
from rating.models import AuditEntry
from tests.support.factories import make_staff
from tests.support.people import logged_in

pytestmark = pytest.mark.integration


@pytest.fixture()
def world(api, app):
    people = {name: make_staff(role, code) for name, role, code in [
        ("province", "official", "320000"), ("changzhou", "official", "320400"),
        ("nanjing", "official", "320100"), ("admin", "admin", None), ("reviewer", "reviewer", "320402")]}
    tokens = {name: api.token(user.email) for name, user in people.items()}
    here, _t = api.register_firm("320402")
    there, _t = api.register_firm("320102")
    entries = {}
    for name, firm in (("here", here), ("there", there)):
        answer = api.post("/blacklist", {"enterprise_id": firm["id"], "reason": f"伪造材料 {name}"},
                          token=tokens["province"])
        assert answer.status_code == 201
        entries[name] = answer.get_json()["id"]
    return {"people": people, "tokens": tokens, "entries": entries}


def listed(api, token, **query):
    answer = api.get("/audit", token=token, query_string=query)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_officials_see_their_scope_admins_everything(api, world):
    tokens, entries = world["tokens"], world["entries"]
    mine = listed(api, tokens["changzhou"], action="blacklist.add")
    assert [i["object_id"] for i in mine["items"]] == [str(entries["here"])] and mine["total"] == 1
    item = mine["items"][0]
    assert item["actor"]["id"] == world["people"]["province"].id and item["data"]["reason"] == "伪造材料 here"
    assert item["object_type"] == "blacklist_entry" and set(item) == {
        "seq", "at", "actor", "action", "object_type", "object_id", "data"}
    theirs = listed(api, tokens["nanjing"], action="blacklist.add")
    assert [i["object_id"] for i in theirs["items"]] == [str(entries["there"])]
    everything = listed(api, tokens["admin"])
    assert everything["total"] >= 2 and everything["verified_through"] == everything["items"][0]["seq"]
    assert {i["object_id"] for i in listed(api, tokens["province"], action="blacklist.add")["items"]} == {
        str(e) for e in entries.values()}
    assert api.get("/audit", token=tokens["reviewer"]).status_code == 403
    assert api.get("/audit").status_code == 401


def test_filters_and_pages(api, world):
    tokens, province = world["tokens"], world["people"]["province"]
    by_actor = listed(api, tokens["admin"], actor=str(province.id))
    assert by_actor["items"] and all(i["actor"]["id"] == province.id for i in by_actor["items"])
    assert listed(api, tokens["admin"], actor=province.email.upper())["total"] == by_actor["total"]
    assert listed(api, tokens["admin"], actor="nobody@example.com")["items"] == []
    one = listed(api, tokens["admin"], object_type="blacklist_entry", object_id=str(world["entries"]["there"]))
    assert [i["object_id"] for i in one["items"]] == [str(world["entries"]["there"])]
    assert listed(api, tokens["admin"], since="2000-01-01", until="2000-01-02")["items"] == []
    assert listed(api, tokens["admin"], page=2)["page"] == 2
    for query in ({"since": "tomorrow"}, {"page": "0"}, {"since": "2026-02-01", "until": "2026-01-01"}):
        assert api.get("/audit", token=tokens["admin"], query_string=query).status_code == 422


def tamper(statement: str, **params) -> None:
    """Someone with the owner's rights switches the guard off and edits history."""
    db.session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
    db.session.execute(text(statement), params)
    db.session.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only"))
    db.session.commit()


def test_verified_through_stops_before_a_changed_entry(api, world):
    tokens = world["tokens"]
    newest = listed(api, tokens["admin"])["items"][0]["seq"]
    assert listed(api, tokens["admin"])["verified_through"] == newest
    # A new entry after the verified mark is changed behind the chain's back.
    api.post("/blacklist", {"provider_name": "某云", "reason": "x"}, token=tokens["province"])
    changed = db.session.query(AuditEntry).order_by(AuditEntry.id.desc()).first().id
    tamper("UPDATE audit_entries SET payload = replace(payload, '\"x\"', '\"y\"') WHERE id = :id", id=changed)
    assert listed(api, tokens["admin"])["verified_through"] == changed - 1
    # An entry already vouched for that changes (rehashed) vouches for nothing any more.
    tamper("UPDATE audit_entries SET hash = repeat('a', 64) WHERE id = :id", id=changed - 1)
    assert listed(api, tokens["admin"])["verified_through"] == 0


def test_pages_list_open_and_export(app, world):
    people, entries = world["people"], world["entries"]
    people["province"].name = "=HYPERLINK(\"http://x\")"
    db.session.commit()
    client = logged_in(app, people["changzhou"].email)
    page = client.get("/audit/?action=blacklist.add")
    assert page.status_code == 200 and "审计日志" in page.text and "哈希链已校验至最新一条" in page.text
    seq = db.session.query(AuditEntry.id).filter_by(object_id=str(entries["here"])).scalar()
    other = db.session.query(AuditEntry.id).filter_by(object_id=str(entries["there"])).scalar()
    assert f"/audit/{seq}" in page.text and f"/audit/{other}" not in page.text
    shown = client.get(f"/audit/{seq}")
    assert shown.status_code == 200 and "伪造材料 here" in shown.text
    assert client.get(f"/audit/{other}").status_code == 404
    assert "请输入日期" in client.get("/audit/?since=x").text
    export = client.get("/audit/export.csv?action=blacklist.add")
    assert export.status_code == 200 and export.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert len(rows) == 2 and rows[1][0] == str(seq) and rows[1][2].startswith("'=HYPERLINK")
    reviewer = logged_in(app, people["reviewer"].email)
    assert reviewer.get("/audit/").status_code == 403 and reviewer.get("/audit/export.csv").status_code == 403


def test_the_verifier_command_vouches_for_the_browser(api, world, runner):
    """`audit verify` remembers how far the chain is intact: the browser continues from there."""
    tokens = world["tokens"]
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    mark = db.session.execute(text("SELECT seq FROM audit_verified")).scalar_one()   # before any look
    newest = db.session.execute(text("SELECT max(id) FROM audit_entries")).scalar_one()
    assert mark == newest and listed(api, tokens["admin"])["verified_through"] == newest
