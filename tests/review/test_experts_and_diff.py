"""Expert review at the city stage, and the diff a reviewer sees after a resubmission."""
from __future__ import annotations

import io
import re

import pytest

from tests.support.factories import PDF_BYTES, make_batch, make_staff
from tests.support.flows import decide, route, scored
from tests.support.people import csrf_token, log_in

pytestmark = pytest.mark.integration


@pytest.fixture()
def panel(api, app):
    users = {"county": make_staff("reviewer", "320402"), "city": make_staff("reviewer", "320400"),
             "official": make_staff("official", "320400"),
             "experts": [make_staff("expert", "320400") for _ in range(4)],
             "far_expert": make_staff("expert", "320100")}
    return users


def test_experts_score_independently_and_approval_waits_for_them(app, api, batch, panel):
    application_id, firm = scored(api, batch, 3)
    official = api.token(panel["official"].email)
    assert api.post(f"/applications/{application_id}/experts", {}, token=official).status_code == 409  # county stage
    decide(api, api.token(panel["county"].email), application_id, "forward")
    far = api.post(f"/applications/{application_id}/experts", {"expert_ids": [panel["far_expert"].id]},
                   token=official)
    assert far.status_code == 422 and "expert_ids" in far.get_json()["error"]["fields"]
    assigned = api.post(f"/applications/{application_id}/experts", {}, token=official)    # default: 3
    assert assigned.status_code == 201 and len(assigned.get_json()["experts"]) == 3
    chosen = [u for u in panel["experts"] if u.id in assigned.get_json()["experts"]]

    city = api.token(panel["city"].email)
    waiting = decide(api, city, application_id, "approve")
    assert waiting.status_code == 422 and "3 位" in waiting.get_json()["error"]["message"]

    items = api.get(f"/applications/{application_id}", token=firm).get_json()["score"]["items"]
    expert_tokens = [api.token(u.email) for u in chosen]
    queue = api.get("/reviews/queue", token=expert_tokens[0]).get_json()
    assert [q["application_id"] for q in queue] == [application_id]
    first = items[0]
    for token, delta in zip(expert_tokens, (0, 0, first["max"])):       # the third expert disagrees on item 0
        scores = [{"code": i["code"], "points": i["points"] if i["code"] != first["code"] else max(0, i["max"] - delta)}
                  for i in items]
        bad = api.post(f"/applications/{application_id}/expert-scores", {"scores": scores[1:]}, token=token)
        assert bad.status_code == 422 and f"scores.{first['code']}" in bad.get_json()["error"]["fields"]
        assert api.post(f"/applications/{application_id}/expert-scores", {"scores": scores, "comment": "同意"},
                        token=token).status_code == 201
        assert api.post(f"/applications/{application_id}/expert-scores", {"scores": scores},
                        token=token).status_code == 409
    outsider = api.token(panel["experts"][-1].email) if panel["experts"][-1] not in chosen else \
        api.token([u for u in panel["experts"] if u not in chosen][0].email)
    assert api.post(f"/applications/{application_id}/expert-scores", {"scores": []},
                    token=outsider).status_code == 404
    review = api.get(f"/applications/{application_id}/expert-review", token=city).get_json()
    assert (review["assigned"], review["submitted"]) == (3, 3)
    row = next(i for i in review["indicators"] if i["code"] == first["code"])
    assert row["spread"] == first["max"] and row["disagree"] is True
    assert row["mean"] == round(first["max"] * 2 / 3, 2)
    assert not any(i["disagree"] for i in review["indicators"] if i["code"] != first["code"])
    assert decide(api, city, application_id, "approve").status_code == 201


def test_resubmission_diff_and_the_firms_view_of_adjustments(api, batch, panel):
    application_id, firm = scored(api, batch, 3)
    county = api.token(panel["county"].email)
    returned = decide(api, county, application_id, "return", "请补充设备清单并更正工业APP数量",
                      adjustments=[{"code": "business_app_count", "points": 1, "reason": "清单中仅有2个可核实"}])
    assert returned.status_code == 201
    body = api.get(f"/applications/{application_id}", token=firm).get_json()
    assert body["adjustments"][0]["reason"] == "清单中仅有2个可核实"
    assert body["adjustments"][0]["machine_points"] is not None and body["adjustments"][0]["points"] == 1
    assert api.get(f"/applications/{application_id}/diff", token=county).get_json()["from_round"] is None

    services = body["cloud_services"] + [{"provider": "阿里云", "service_name": "工业APP", "category": "industrial_app",
                                          "deployment": "public", "started_on": "2024-01-01", "ended_on": None,
                                          "payments": []}]
    assert api.patch(f"/applications/{application_id}",
                     {"answers": {"business_app_count": 2}, "cloud_services": services}, token=firm).status_code == 200
    upload = api.client.post(f"/api/v1/applications/{application_id}/evidence",
                             data={"file": (io.BytesIO(PDF_BYTES + b"v2"), "设备清单.pdf")},
                             headers={"Authorization": f"Bearer {firm}"}, content_type="multipart/form-data")
    assert upload.status_code == 201
    assert api.post(f"/applications/{application_id}/submit", {"pledge": True}, token=firm).status_code == 202
    diff = api.get(f"/applications/{application_id}/diff", token=county).get_json()
    assert (diff["from_round"], diff["to_round"]) == (1, 2)
    changed = {a["code"]: (a["before"], a["after"]) for a in diff["answers"]}
    assert changed["business_app_count"][1] == 2 and len(changed) == 1
    assert [s["provider"] for s in diff["services"]["added"]] == ["阿里云"] and diff["services"]["removed"] == []
    assert [e["filename"] for e in diff["evidence"]["added"]] == ["设备清单.pdf"]
    assert diff["evidence"]["removed"] == []


def test_the_pages_show_diff_experts_and_official_tools(app, api, batch, panel):
    application_id, firm = scored(api, batch, 3)
    county = api.token(panel["county"].email)
    decide(api, county, application_id, "return", "请补充", adjustments=[
        {"code": "business_app_count", "points": 1, "reason": "仅2个可核实"}])
    firm_page = app.test_client()
    log_in(firm_page, api.get(f"/applications/{application_id}", token=firm).get_json()["enterprise_name"]
           and _firm_email(firm, api, application_id), follow_redirects=True)
    assert "仅2个可核实" in firm_page.get(f"/applications/{application_id}").text     # the firm sees the reason
    assert api.patch(f"/applications/{application_id}", {"answers": {"business_app_count": 2}},
                     token=firm).status_code == 200
    api.post(f"/applications/{application_id}/submit", {"pledge": True}, token=firm)
    from rating.services.review import scoring_runs

    scoring_runs.score_application(application_id)
    route(application_id)
    reviewer = app.test_client()
    log_in(reviewer, panel["county"].email, follow_redirects=True)
    page = reviewer.get(f"/applications/{application_id}").text
    assert "与第 1 轮提交相比的变化" in page and "<ins>2</ins>" in page
    decide(api, county, application_id, "forward")

    official = app.test_client()
    log_in(official, panel["official"].email, follow_redirects=True)
    page = official.get(f"/applications/{application_id}")
    assert "指派专家" in page.text
    official.post(f"/reviews/{application_id}/experts", data={"csrf_token": csrf_token(page.text), "count": "1"})
    expert = next(u for u in panel["experts"]
                  if api.get("/reviews/queue", token=api.token(u.email)).get_json())
    expert_client = app.test_client()
    log_in(expert_client, expert.email, follow_redirects=True)
    page = expert_client.get(f"/applications/{application_id}").text
    assert "专家评分" in page
    items = api.get(f"/applications/{application_id}", token=firm).get_json()["score"]["items"]
    form = {"csrf_token": csrf_token(page), "comment": "同意"}
    for index, item in enumerate(items):
        form[f"scores-{index}-code"] = item["code"]
        form[f"scores-{index}-points"] = str(item["points"])
    done = expert_client.post(f"/reviews/{application_id}/expert-scores", data=form, follow_redirects=True)
    assert "评分已提交" in done.text
    assert "1/1 位已评分" in official.get(f"/applications/{application_id}").text

    overview = official.get("/reviews/overview").text
    # One application in review at Changzhou's city stage, assigned: a row, and no warning.
    assert "<td>常州市</td><td>设区市工信局评审</td>" in overview and "无可分派人员" not in overview
    listing = official.get("/providers/")      # the blacklist names providers from the officials' list
    official.post("/providers/", data={"csrf_token": csrf_token(listing.text), "name": "某云"})
    provider_id = re.search(r'<option value="(\d+)">某云</option>', official.get("/reviews/blacklist").text).group(1)
    blacklist = official.get("/reviews/blacklist")
    added = official.post("/reviews/blacklist", data={"csrf_token": csrf_token(blacklist.text),
                                                      "provider_id": provider_id, "reason": "协助造假"},
                          follow_redirects=True)
    assert "已列入黑名单" in added.text and "某云" in added.text


def _firm_email(token, api, application_id) -> str:
    from rating.extensions import db
    from rating.models import Application, User

    application = db.session.get(Application, application_id)
    return db.session.query(User).filter_by(enterprise_id=application.enterprise_id).one().email
