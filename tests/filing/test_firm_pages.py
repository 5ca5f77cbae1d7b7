"""The firm's application pages as HTML (issue 27): one id per element, required selects that
start on "请选择", uploads inside the one form, the withdrawal's confirmation and the copy,
the return instruction on top, no reviewer-only flag told to the firm."""
from __future__ import annotations

import io
import re
from collections import Counter

import pytest

from rating.extensions import db
from rating.models import Application
from rating.services.review import scoring_runs
from rating.services.reference import get_edition
from tests.support.factories import PDF_BYTES
from tests.support.flows import create, decide, file_everything, scored
from tests.support.people import csrf_token, firm_email, logged_in

pytestmark = pytest.mark.integration

SELECT = re.compile(r"<select([^>]*)>\s*<option([^>]*)>([^<]*)</option>", re.S)


def draft(api, batch) -> int:
    _firm, token = api.register_firm("320402")
    created = create(api, token, {"batch_id": batch.id, "target_level": 3})
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def test_the_edit_page_has_unique_ids_and_required_selects_start_empty(app, api, batch):
    """Fails on the old code: csrf_token once per upload form, `submit` for a section and a
    button, and service category / deployment preselected on their first real value."""
    application_id = draft(api, batch)
    client = logged_in(app, firm_email(application_id))
    for address in (f"/applications/{application_id}/edit", "/applications/"):
        html = client.get(address).text
        ids = Counter(re.findall(r'\sid="([^"]+)"', html))
        assert [i for i, n in ids.items() if n > 1] == [], address
        for attributes, first, text in SELECT.findall(html):
            if "required" in attributes:
                assert 'value=""' in first and text.strip() == "请选择", (address, attributes)


def test_a_service_without_a_category_is_asked_for_one(app, api, batch):
    application_id = draft(api, batch)
    client = logged_in(app, firm_email(application_id))
    page = client.get(f"/applications/{application_id}/edit")
    response = client.post(f"/applications/{application_id}/edit", data={
        "csrf_token": csrf_token(page.text), "target_level": "3",
        "cloud_services-0-provider": "天翼云", "cloud_services-0-service_name": "云主机",
        "cloud_services-0-category": "", "cloud_services-0-deployment": "",
        "cloud_services-0-started_on": "2024-01-02", "save": "1"})
    assert response.status_code == 422
    assert "请选择服务类别。" in response.text and "请选择部署方式。" in response.text


def test_an_upload_from_the_form_saves_the_answers_first(app, api, batch):
    """Fails on the old code: the upload ignored (and so lost) the answers posted with it."""
    application_id = draft(api, batch)
    code = next(i.code for i in get_edition(batch.edition_code).indicators_for(3) if i.evidence_required)
    client = logged_in(app, firm_email(application_id))
    page = client.get(f"/applications/{application_id}/edit")
    response = client.post(f"/applications/{application_id}/evidence", data={
        "csrf_token": csrf_token(page.text), "target_level": "3", "answers-business_app_count": "12",
        "upload": code, f"evidence-{code}": (io.BytesIO(PDF_BYTES), "合同.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302 and "uploaded=" in response.headers["Location"]
    db.session.rollback()
    application = db.session.get(Application, application_id)
    assert application.answers.get("business_app_count") == 12
    assert [e.indicator_code for e in application.evidence] == [code]
    # A refused file: the message beside its input, the answers saved and kept in the form.
    response = client.post(f"/applications/{application_id}/evidence", data={
        "csrf_token": csrf_token(page.text), "target_level": "3", "answers-business_app_count": "13",
        "upload": code, f"evidence-{code}": (io.BytesIO(b"MZ\x90\x00"), "x.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    beside = response.text[response.text.index(f'id="file-{code}"'):]
    assert "仅支持" in beside[:1500] and 'value="13"' in response.text
    db.session.rollback()
    assert db.session.get(Application, application_id).answers.get("business_app_count") == 13


def test_files_chosen_for_several_indicators_are_all_stored_by_one_upload(app, api, batch):
    application_id = draft(api, batch)
    first, second = [i.code for i in get_edition(batch.edition_code).indicators_for(3) if i.evidence_required][:2]
    client = logged_in(app, firm_email(application_id))
    page = client.get(f"/applications/{application_id}/edit")
    response = client.post(f"/applications/{application_id}/evidence", data={
        "csrf_token": csrf_token(page.text), "target_level": "3", "upload": second,
        f"evidence-{first}": (io.BytesIO(PDF_BYTES), "一.pdf"), f"evidence-{second}": (io.BytesIO(PDF_BYTES), "二.pdf")},
        content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200 and "已上传：一.pdf、二.pdf" in response.text
    assert response.text.count('data-testid="uploaded-') == 2
    db.session.rollback()
    assert sorted(e.indicator_code for e in db.session.get(Application, application_id).evidence) == \
        sorted([first, second])


def test_withdrawing_asks_first_and_the_copy_keeps_everything(app, api, batch):
    _firm, token = api.register_firm("320402")
    application_id = file_everything(api, token, batch)["id"]
    client = logged_in(app, firm_email(application_id))
    show = client.get(f"/applications/{application_id}").text
    assert f'action="/applications/{application_id}/withdraw"' not in show  # no one-click withdrawal
    confirm = client.get(f"/applications/{application_id}/withdraw")
    assert confirm.status_code == 200 and "不能再修改" in confirm.text
    assert client.post(f"/applications/{application_id}/withdraw",
                       data={"csrf_token": csrf_token(confirm.text)}).status_code == 302
    dashboard = client.get("/applications/").text
    assert f'action="/applications/{application_id}/copy"' in dashboard
    copied = client.post(f"/applications/{application_id}/copy", data={"csrf_token": csrf_token(dashboard)})
    assert copied.status_code == 302 and copied.headers["Location"].endswith("/edit")
    new_id = int(re.search(r"/applications/(\d+)/edit", copied.headers["Location"]).group(1))
    db.session.rollback()
    old, new = db.session.get(Application, application_id), db.session.get(Application, new_id)
    assert new.answers == old.answers and len(new.services) == len(old.services)
    assert len(new.evidence) == len(old.evidence)
    # A second copy is refused: the batch has an application again.
    again = client.post(f"/applications/{application_id}/copy", data={"csrf_token": csrf_token(dashboard)},
                        follow_redirects=True)
    assert "每家企业每个批次只能提交一份申报" in again.text


def test_the_firm_is_not_told_its_files_match_other_firms(app, api, batch):
    """Fails on the old code: "与其他企业上传的文件完全相同" was on the firm's page and in its API."""
    ids = []
    for _ in range(2):
        _firm, token = api.register_firm("320402")
        body = file_everything(api, token, batch)
        api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token)
        scoring_runs.score_application(body["id"])
        ids.append((body["id"], token))
    application_id, token = ids[1]
    page = logged_in(app, firm_email(application_id)).get(f"/applications/{application_id}").text
    assert "其他企业" not in page
    flags = api.get(f"/applications/{application_id}", token=token).get_json()["score"]["flags"]
    assert "shared_evidence" not in {f["code"] for f in flags}


def test_a_returned_application_opens_on_the_instruction_and_a_submitted_one_redirects(app, api, batch, people):
    application_id, _token = scored(api, batch, 3)
    client = logged_in(app, firm_email(application_id))
    edit = client.get(f"/applications/{application_id}/edit")
    assert edit.status_code == 302 and edit.headers["Location"].endswith(f"/applications/{application_id}")
    assert decide(api, people["county"], application_id, "return", comment="请补充设备清单。").status_code == 201
    for address in (f"/applications/{application_id}/edit", f"/applications/{application_id}"):
        html = client.get(address).text
        top = html[:html.index("请补充设备清单。")]
        assert 'data-testid="return-instruction"' in top and "办理记录" not in top
