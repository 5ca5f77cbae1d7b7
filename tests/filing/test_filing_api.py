"""Filing through the JSON API on PostgreSQL: drafts, eligibility, evidence, submission, scope."""
from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import func, select

from rating.extensions import db
from rating.models import Application, ApplicationScore, BlacklistEntry, StatusChange
from rating.services.review import scoring_runs
from tests.support.factories import PDF_BYTES, PNG_BYTES, good_application, grant_rating, make_batch, make_staff
from tests.support.flows import create, file_everything, upload

pytestmark = pytest.mark.integration


@pytest.fixture()
def firm(api):
    return api.register_firm()


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document>合同</document>")
    return buffer.getvalue()


def test_create_draft(api, batch, firm):
    _firm, token = firm
    response = create(api, token, good_application(batch, 3))
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "draft" and body["stage"] is None and body["score"] is None
    assert body["target_level"] == 3 and body["batch_id"] == batch.id
    assert body["cloud_services"][0]["payments"][0]["amount"] > 0
    assert body["history"][0]["action"] == "create" and body["history"][0]["to_status"] == "draft"


def test_draft_may_be_incomplete(api, batch, firm):
    _firm, token = firm
    response = create(api, token, {"batch_id": batch.id, "target_level": 3})
    assert response.status_code == 201
    assert response.get_json()["answers"] == {}


@pytest.mark.parametrize(
    "held, target, ok",
    [
        ((), 3, True), ((), 4, False), ((), 5, False),
        ((3,), 3, False), ((3,), 4, True), ((3,), 5, False),
        ((4,), 5, True), ((3, 4), 4, False), ((5,), 5, False),
    ],
)
def test_progression_js_2024(api, batch, firm, held, target, ok):
    enterprise, token = firm
    for level in held:
        grant_rating(enterprise["id"], level)
    response = create(api, token, {"batch_id": batch.id, "target_level": target})
    assert response.status_code == (201 if ok else 422), response.get_json()
    if not ok:
        assert response.get_json()["error"]["code"] == "ineligible"


@pytest.mark.parametrize("held, target, ok", [((), 3, True), ((), 4, True), ((), 5, False), ((3,), 4, True),
                                              ((4,), 5, True), ((3,), 5, False)])
def test_progression_js_2022(api, app, firm, held, target, ok):
    batch = make_batch("js-2022")
    enterprise, token = firm
    for level in held:
        grant_rating(enterprise["id"], level)
    assert create(api, token, {"batch_id": batch.id, "target_level": target}).status_code == (201 if ok else 422)


def test_one_application_per_batch(api, batch, firm):
    _firm, token = firm
    first = create(api, token, {"batch_id": batch.id, "target_level": 3}).get_json()
    second = create(api, token, {"batch_id": batch.id, "target_level": 3})
    assert second.status_code == 422
    assert second.get_json()["error"]["code"] == "ineligible"
    assert "批次" in second.get_json()["error"]["message"]
    # Withdrawing frees the place.
    assert api.post(f"/applications/{first['id']}/withdraw", {}, token=token).status_code == 200
    assert create(api, token, {"batch_id": batch.id, "target_level": 3}).status_code == 201


def test_one_application_per_batch_is_a_database_rule(api, batch, firm):
    from sqlalchemy.exc import IntegrityError

    enterprise, token = firm
    first = create(api, token, {"batch_id": batch.id, "target_level": 3}).get_json()
    db.session.add(Application(enterprise_id=enterprise["id"], batch_id=batch.id, target_level=4,
                               status="draft", answers={}))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert first["id"]


def test_closed_batch_refuses(api, app, firm):
    closed = make_batch(opens_in_days=-30, closes_in_days=-1)
    _firm, token = firm
    response = create(api, token, {"batch_id": closed.id, "target_level": 3})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "ineligible"


def test_blacklisted_firm_refused(api, batch, firm):
    enterprise, token = firm
    db.session.add(BlacklistEntry(enterprise_id=enterprise["id"], reason="材料造假"))
    db.session.commit()
    response = create(api, token, {"batch_id": batch.id, "target_level": 3})
    assert response.status_code == 422
    assert "黑名单" in response.get_json()["error"]["message"]


def test_patch_merges_answers_and_replaces_services(api, batch, firm):
    _firm, token = firm
    body = create(api, token, good_application(batch, 3)).get_json()
    some = next(iter(body["answers"]))
    response = api.patch(f"/applications/{body['id']}", {"answers": {some: None}, "cloud_services": []}, token=token)
    assert response.status_code == 200, response.get_json()
    patched = response.get_json()
    assert some not in patched["answers"]
    assert len(patched["answers"]) == len(body["answers"]) - 1
    assert patched["cloud_services"] == []
    # One change, one version: answers and services are written in the same UPDATE.
    assert patched["version"] == body["version"] + 1


def test_patch_with_stale_version_is_409(api, batch, firm):
    _firm, token = firm
    body = create(api, token, {"batch_id": batch.id, "target_level": 3}).get_json()
    api.patch(f"/applications/{body['id']}", {"answers": {}}, token=token)
    stale = api.patch(f"/applications/{body['id']}", {"answers": {}, "version": body["version"]}, token=token)
    assert stale.status_code == 409
    assert stale.get_json()["error"]["code"] == "conflict"


def _indicator(batch, kind):
    from rating.services.reference import get_edition

    return next(i for i in get_edition(batch.edition_code).indicators_for(3) if i.type == kind)


@pytest.mark.parametrize("kind, bad", [("integer", "twelve"), ("integer", 1.5), ("integer", True),
                                       ("decimal", "NaN"), ("decimal", [1]), ("boolean", "maybe"),
                                       ("choice", "not-an-option"), ("date", "2024-13-45"),
                                       ("multi_choice", ["nope"]), ("text", {"a": 1})])
def test_wrong_answer_types_are_422_and_write_nothing(api, batch, firm, kind, bad):
    _firm, token = firm
    body = create(api, token, {"batch_id": batch.id, "target_level": 3}).get_json()
    indicator = _indicator(batch, kind)
    response = api.patch(f"/applications/{body['id']}", {"answers": {indicator.code: bad}}, token=token)
    assert response.status_code == 422, response.get_json()
    assert f"answers.{indicator.code}" in response.get_json()["error"]["fields"]
    assert api.get(f"/applications/{body['id']}", token=token).get_json()["answers"] == {}


def test_out_of_range_number_is_422(api, batch, firm):
    _firm, token = firm
    body = create(api, token, {"batch_id": batch.id, "target_level": 3}).get_json()
    indicator = next(i for i in _all(batch) if i.type in ("integer", "decimal") and i.max is not None)
    response = api.patch(f"/applications/{body['id']}", {"answers": {indicator.code: float(indicator.max) + 1}},
                         token=token)
    assert response.status_code == 422


def _all(batch):
    from rating.services.reference import get_edition

    return get_edition(batch.edition_code).indicators


def test_unknown_indicator_is_422(api, batch, firm):
    _firm, token = firm
    body = create(api, token, {"batch_id": batch.id, "target_level": 3}).get_json()
    response = api.patch(f"/applications/{body['id']}", {"answers": {"no_such_thing": 1}}, token=token)
    assert response.status_code == 422
    assert "answers.no_such_thing" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("services, field", [
    ("not a list", "cloud_services"),
    ([{"provider": "A"}], "cloud_services.0.service_name"),
    ([{"provider": "A", "service_name": "B", "category": "iaas", "deployment": "moon",
       "started_on": "2024-01-01"}], "cloud_services.0.deployment"),
    ([{"provider": "A", "service_name": "B", "category": "iaas", "deployment": "public",
       "started_on": "2024-05-01", "ended_on": "2024-01-01"}], "cloud_services.0.ended_on"),
    ([{"provider": "A", "service_name": "B", "category": "iaas", "deployment": "public",
       "started_on": "2024-01-01", "payments": [{"paid_on": "2024-02-01", "amount": -5}]}],
     "cloud_services.0.payments.0.amount"),
])
def test_bad_services_are_422(api, batch, firm, services, field):
    _firm, token = firm
    body = create(api, token, {"batch_id": batch.id, "target_level": 3}).get_json()
    response = api.patch(f"/applications/{body['id']}", {"cloud_services": services}, token=token)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"], response.get_json()


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b'"text"', b""])
def test_malformed_json_is_4xx(api, batch, firm, payload):
    _firm, token = firm
    response = api.client.post("/api/v1/applications", data=payload, content_type="application/json",
                               headers={"Authorization": f"Bearer {token}"})
    assert 400 <= response.status_code < 500
    assert response.get_json()["error"]["code"] == "validation_error"
    assert db.session.execute(select(func.count(Application.id))).scalar_one() == 0


def test_evidence_upload_checks_content(api, batch, firm):
    _firm, token = firm
    body = create(api, token, {"batch_id": batch.id, "target_level": 3}).get_json()
    ok = upload(api, token, body["id"], PDF_BYTES, "合同.pdf")
    assert ok.status_code == 201
    assert ok.get_json()["filename"] == "合同.pdf" and len(ok.get_json()["sha256"]) == 64
    assert upload(api, token, body["id"], PNG_BYTES, "shot.png").status_code == 201
    assert upload(api, token, body["id"], docx_bytes(), "contract.docx").status_code == 201
    disguised = upload(api, token, body["id"], b"MZ\x90\x00 this is an exe", "invoice.pdf")
    assert disguised.status_code == 422
    assert "file" in disguised.get_json()["error"]["fields"]
    assert upload(api, token, body["id"], b"", "empty.pdf").status_code == 422
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("a.txt", "x")
    assert upload(api, token, body["id"], plain_zip.getvalue(), "fake.xlsx").status_code == 422
    evidence = api.get(f"/applications/{body['id']}", token=token).get_json()["evidence"]
    assert [e["filename"] for e in evidence] == ["合同.pdf", "shot.png", "contract.docx"]


def test_zip_bomb_disguised_as_xlsx_is_refused(api, batch, firm):
    _firm, token = firm
    body = create(api, token, {"batch_id": batch.id, "target_level": 3}).get_json()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", b"0" * (50 * 1024 * 1024))
    assert upload(api, token, body["id"], buffer.getvalue(), "bomb.xlsx").status_code == 422


def test_oversized_upload_is_413(api, app, batch, firm):
    _firm, token = firm
    body = create(api, token, {"batch_id": batch.id, "target_level": 3}).get_json()
    app.config["MAX_UPLOAD_BYTES"] = 1024
    try:
        response = upload(api, token, body["id"], PDF_BYTES + b"0" * 2048)
    finally:
        app.config["MAX_UPLOAD_BYTES"] = 20 * 1024 * 1024
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"


def test_path_traversal_name_is_kept_as_plain_name(api, batch, firm):
    _firm, token = firm
    body = create(api, token, {"batch_id": batch.id, "target_level": 3}).get_json()
    response = upload(api, token, body["id"], PDF_BYTES, "../../etc/pass\x00wd.pdf")
    assert response.status_code == 201
    assert response.get_json()["filename"] == "passwd.pdf"


def test_submit_incomplete_lists_what_is_missing(api, batch, firm):
    _firm, token = firm
    body = create(api, token, {"batch_id": batch.id, "target_level": 3}).get_json()
    response = api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token)
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert any(k.startswith("answers.") for k in fields)
    assert any(k.startswith("evidence.") for k in fields)
    assert "cloud_services" in fields
    assert api.get(f"/applications/{body['id']}", token=token).get_json()["status"] == "draft"


def test_submit_needs_pledge(api, batch, firm):
    _firm, token = firm
    body = file_everything(api, token, batch)
    response = api.post(f"/applications/{body['id']}/submit", {"pledge": False}, token=token)
    assert response.status_code == 422
    assert "pledge" in response.get_json()["error"]["fields"]


def test_submit_score_and_route(api, batch, firm):
    _firm, token = firm
    body = file_everything(api, token, batch)
    response = api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token)
    assert response.status_code == 202
    assert response.get_json()["status"] == "submitted"
    assert api.patch(f"/applications/{body['id']}", {"answers": {}}, token=token).status_code == 409
    assert scoring_runs.score_application(body["id"]) == "scored"
    assert scoring_runs.score_application(body["id"]) == "skipped"
    scored = api.get(f"/applications/{body['id']}", token=token).get_json()
    assert scored["status"] == "in_review" and scored["stage"] == "county"
    score = scored["score"]
    assert score["passed"] is True, score["gates"]
    assert score["total"] <= score["max"] and score["items"]
    assert {g["code"] for g in score["gates"]} >= {"deployment", "min_usage", "min_investment", "pass_score"}
    assert [h["action"] for h in scored["history"]] == ["create", "submit", "scored"]
    assert scored["history"][-1]["actor"] == "system"


def test_scoring_twice_leaves_one_score(api, batch, firm):
    _firm, token = firm
    body = file_everything(api, token, batch)
    api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token)
    results = {scoring_runs.score_application(body["id"]) for _ in range(3)}
    assert results == {"scored", "skipped"}
    assert db.session.execute(select(func.count(ApplicationScore.id))).scalar_one() == 1
    assert db.session.execute(
        select(func.count(StatusChange.id)).where(StatusChange.action == "scored")
    ).scalar_one() == 1


def test_failing_gates_are_shown_not_dropped(api, batch, firm):
    _firm, token = firm
    application = good_application(batch, 3)
    application["cloud_services"][0]["deployment"] = "private"
    application["cloud_services"][0]["payments"].append({"paid_on": "2001-01-01", "amount": 999})
    body = create(api, token, application).get_json()
    from rating.services.reference import get_edition

    for indicator in get_edition(batch.edition_code).indicators_for(3):
        if indicator.evidence_required:
            upload(api, token, body["id"], PDF_BYTES, indicator=indicator.code)
    api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token)
    scoring_runs.score_application(body["id"])
    score = api.get(f"/applications/{body['id']}", token=token).get_json()["score"]
    gates = {g["code"]: g for g in score["gates"]}
    assert gates["deployment"]["passed"] is False
    assert gates["payments_in_window"]["passed"] is False
    assert score["passed"] is False


def test_shared_evidence_is_flagged(api, batch):
    (_a, token_a), (_b, token_b) = api.register_firm(), api.register_firm()
    first = file_everything(api, token_a, batch)
    second = file_everything(api, token_b, batch)
    for body, token in ((first, token_a), (second, token_b)):
        api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token)
        scoring_runs.score_application(body["id"])
    reviewer = make_staff("reviewer", "320402")
    flags = api.get(f"/applications/{second['id']}", token=api.token(reviewer.email)).get_json()["score"]["flags"]
    assert "shared_evidence" in {f["code"] for f in flags}
    # The flag is for reviewers: the firm is not told that its files match other firms' files.
    told = api.get(f"/applications/{second['id']}", token=token_b).get_json()["score"]["flags"]
    assert "shared_evidence" not in {f["code"] for f in told}


def test_shared_evidence_counts_each_file_another_firm_holds_once(api, batch):
    """Files, not copies: a file three other firms hold counts once, a file the firm
    uploaded twice itself (or only it holds) not at all."""
    from rating.services.reference import get_edition

    def pdf(tag: bytes) -> bytes:
        return PDF_BYTES + b"%" + tag + b"\n"

    codes = [i.code for i in get_edition(batch.edition_code).indicators_for(3) if i.evidence_required]
    others = [api.register_firm() for _ in range(3)]
    for n, (_firm, token) in enumerate(others):
        body = create(api, token, good_application(batch, 3)).get_json()
        for tag in (b"template", b"contract", b"own-%d" % n):
            assert upload(api, token, body["id"], pdf(tag), indicator=codes[0]).status_code == 201
    _firm, token = api.register_firm()
    body = create(api, token, good_application(batch, 3)).get_json()
    for code, tag in zip(codes, [b"template", b"template", b"contract", b"mine", b"mine"] + [b"x"] * 9):
        assert upload(api, token, body["id"], pdf(tag), indicator=code).status_code == 201
    api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token)
    assert scoring_runs.score_application(body["id"]) == "scored"
    score = db.session.execute(select(ApplicationScore).where(ApplicationScore.application_id == body["id"])
                               ).scalar_one()
    shared = [f for f in score.detail["flags"] if f["code"] == "shared_evidence"]
    assert len(shared) == 1 and shared[0]["message"]["p"] == {"n": 2}, shared


def test_withdraw(api, batch, firm):
    _firm, token = firm
    body = create(api, token, {"batch_id": batch.id, "target_level": 3}).get_json()
    assert api.post(f"/applications/{body['id']}/withdraw", {}, token=token).get_json()["status"] == "withdrawn"
    assert api.post(f"/applications/{body['id']}/withdraw", {}, token=token).status_code == 409


def test_scope(api, app, batch):
    (firm_a, token_a), (_b, token_b) = api.register_firm("320402"), api.register_firm("320411")
    body = create(api, token_a, {"batch_id": batch.id, "target_level": 3}).get_json()
    assert api.get(f"/applications/{body['id']}", token=token_b).status_code == 404
    assert api.patch(f"/applications/{body['id']}", {"answers": {}}, token=token_b).status_code == 404
    assert upload(api, token_b, body["id"], PDF_BYTES).status_code == 404
    staff = {
        "own_county": make_staff("reviewer", "320402"),
        "other_county": make_staff("reviewer", "320411"),
        "own_city": make_staff("official", "320400"),
        "other_city": make_staff("official", "320100"),
        "province": make_staff("official", "320000"),
        "admin": make_staff("admin", None),
    }
    visible = {}
    for name, user in staff.items():
        token = api.token(user.email)
        visible[name] = api.get(f"/applications/{body['id']}", token=token).status_code
        listed = api.get("/applications", token=token).get_json()["total"]
        assert (listed == 1) == (visible[name] == 200), name
        assert api.patch(f"/applications/{body['id']}", {"answers": {}}, token=token).status_code in (403, 404)
    assert visible == {"own_county": 200, "other_county": 404, "own_city": 200, "other_city": 404,
                       "province": 200, "admin": 200}
    assert firm_a["district_code"] == "320402"


def test_list_filters_and_bad_parameters(api, batch, firm):
    _firm, token = firm
    create(api, token, {"batch_id": batch.id, "target_level": 3})
    assert api.get("/applications?status=draft", token=token).get_json()["total"] == 1
    assert api.get("/applications?status=rated", token=token).get_json()["total"] == 0
    assert api.get("/applications?status=bogus", token=token).status_code == 422
    assert api.get("/applications?page=0", token=token).status_code == 422


def test_missing_token_is_401(api, batch):
    response = api.post("/applications", {"batch_id": batch.id, "target_level": 3})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_staff_cannot_file(api, batch):
    reviewer = make_staff("reviewer", "320402")
    response = api.post("/applications", {"batch_id": batch.id, "target_level": 3}, token=api.token(reviewer.email))
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/applications/99999999999999999999", "/applications/2147483648",
                                  "/applications?page=99999999999999999999"])
def test_out_of_range_numbers_are_4xx(api, batch, firm, path):
    _firm, token = firm
    response = api.get(path, token=token)
    assert response.status_code in (404, 422)
    assert response.get_json()["error"]["code"] in ("not_found", "validation_error")


def test_out_of_range_batch_is_422(api, batch, firm):
    _firm, token = firm
    response = api.post("/applications", {"batch_id": 2**40, "target_level": 3}, token=token)
    assert response.status_code in (404, 422)
