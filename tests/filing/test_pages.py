"""The firm's HTML pages on PostgreSQL: CSRF, registration, the form, evidence, submission."""
from __future__ import annotations

import io
import re

import pytest

from rating.rules.uscc import uscc_from_serial
from tests.support.factories import PASSWORD, PDF_BYTES, make_batch, make_staff
from tests.support.flows import decide, file_everything, scored
from tests.support.people import csrf_token, log_in

pytestmark = pytest.mark.integration


def register(client, **overrides):
    page = client.get("/register")
    data = {"csrf_token": csrf_token(page.text), "name": "常州星级测试有限公司", "uscc": uscc_from_serial(42),
            "district_code": "320402", "industry": "C", "scale": "small", "contact_name": "王工",
            "contact_phone": "0519-12345678", "email": "page@example.com", "password": PASSWORD,
            "confirm": PASSWORD, **overrides}
    return client.post("/register", data=data, follow_redirects=True)


def new_application(client, batch):
    page = client.get("/applications/")
    response = client.post("/applications/new", data={"csrf_token": csrf_token(page.text), "batch_id": batch.id,
                                                        "target_level": 3}, follow_redirects=True)
    assert response.status_code == 200
    return int(re.search(r"/applications/(\d+)/edit", response.request.path).group(1)), response


def test_pages_are_chinese_by_default_and_english_on_request(client):
    assert "企业注册" in client.get("/").text
    client.get("/lang/en")
    page = client.get("/")
    assert 'lang="en"' in page.text


def test_english_pages_name_industries_and_units_in_english(client, batch):
    register(client)
    application_id, _page = new_application(client, batch)
    client.get("/lang/en")
    form = client.get(f"/applications/{application_id}/edit").text
    assert "Unit: count" in form and "Unit: 个" not in form
    assert "Status: Draft" in form, re.findall(r".{60}：.{20}", form)[:5]
    assert "：" not in form, re.findall(r".{60}：.{20}", form)[:5]     # labels end in the language's own colon
    client.post("/logout", data={"csrf_token": csrf_token(form)})
    page = client.get("/register").text
    assert ">C Manufacturing</option>" in page and "制造业" not in page
    client.get("/lang/zh_Hans_CN")
    page = client.get("/register").text
    assert ">C 制造业</option>" in page


def test_a_page_and_an_email_in_another_language_within_one_request(app):
    """Templates look their translations up once per locale a request uses: an email
    rendered for an English reader while a Chinese page is being answered is English, and
    the page goes on in Chinese (and the other way round)."""
    from flask import render_template, render_template_string
    from flask_babel import force_locale

    with app.app_context(), app.test_request_context("/"):   # each request has its own g
        assert render_template_string("{{ _('星级上云企业评定系统') }}") == "星级上云企业评定系统"
        with force_locale("en"):
            email = render_template("email/password_reset.txt", name="Wang", minutes=30, link="x")
        assert email.startswith("[Star rating] Reset your password") and "星级" not in email
        assert render_template_string("{{ _('星级上云企业评定系统') }}") == "星级上云企业评定系统"
    with app.app_context(), app.test_request_context("/?lang=en"):
        assert render_template_string("{{ _('星级上云企业评定系统') }}") == "Star-rated Cloud Enterprise Certification"
        with force_locale("zh_Hans_CN"):
            assert "重置登录密码" in render_template("email/password_reset.txt", name="王", minutes=30, link="x")
        assert render_template_string("{{ _('星级上云企业评定系统') }}") == "Star-rated Cloud Enterprise Certification"


def test_security_headers(client):
    response = client.get("/")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_forms_need_csrf(client, batch):
    response = client.post("/register", data={"name": "x"})
    assert response.status_code == 400
    register(client)
    assert client.post("/applications/new", data={"batch_id": batch.id, "target_level": 3}).status_code in (302, 400)
    assert client.get("/applications/").text.count("#") == 0 or "还没有申报" in client.get("/applications/").text


def test_a_batch_with_an_application_offers_it_instead_of_a_second(client, batch):
    """One application per firm and batch: the firm's page leads to the one it has rather
    than offering a form that can only be refused."""
    register(client)
    before = client.get("/applications/").text
    assert f'name="batch_id" value="{batch.id}"' in before and f'batch-{batch.id}-taken' not in before
    application_id, _response = new_application(client, batch)
    after = client.get("/applications/").text
    assert f'name="batch_id" value="{batch.id}"' not in after
    taken = after[after.index(f'data-testid="batch-{batch.id}-taken"'):]
    taken = taken[:taken.index("</div>")]
    assert f"已有申报 #{application_id}（草稿）" in taken
    assert f'href="/applications/{application_id}/edit"' in taken


def test_registration_error_then_corrected(client, app):
    bad = register(client, uscc="91320402MA1234567X")
    assert bad.status_code == 200
    assert "校验码" in bad.text or "不正确" in bad.text
    assert "常州星级测试有限公司" in bad.text  # what was typed is kept
    good = register(client)
    assert "我的申报" in good.text


def test_registration_asks_for_industry_and_scale_rather_than_assuming_them(client, app):
    page = client.get("/register").text
    for name in ("industry", "scale"):
        select = page[page.index(f'name="{name}"'):]
        first = re.search(r"<option([^>]*)>([^<]*)</option>", select)
        assert first.group(2) == "请选择" and 'value=""' in first.group(1), first.group(0)
    skipped = register(client, industry="", scale="")
    assert skipped.status_code == 200 and "我的申报" not in skipped.text
    assert "请选择行业门类。" in skipped.text and "请选择企业规模。" in skipped.text


def test_duplicate_registration_is_explained(client, app):
    register(client)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/", follow_redirects=True).text)})
    again = register(client, email="other@example.com")
    assert again.status_code == 409
    assert "已注册" in again.text


def test_invalid_number_is_shown_and_nothing_saved(client, batch):
    register(client)
    application_id, page = new_application(client, batch)
    data = {"csrf_token": csrf_token(page.text), "target_level": "3", "answers-business_app_count": "很多",
            "answers-platform_iip": "true"}
    response = client.post(f"/applications/{application_id}/edit", data=data)
    assert response.status_code == 422
    assert "请输入整数" in response.text
    assert 'value="很多"' in response.text  # the typed value stays for correction
    from rating.extensions import db
    from rating.models import Application

    db.session.expire_all()
    assert db.session.get(Application, application_id).answers == {}


def test_save_draft_and_see_it_again(client, batch):
    register(client)
    application_id, page = new_application(client, batch)
    data = {"csrf_token": csrf_token(page.text), "target_level": "3", "answers-business_app_count": "12",
            "answers-platform_iip": "true", "answers-infra_compute": ["vm", "gpu"],
            "cloud_services-0-provider": "天翼云", "cloud_services-0-service_name": "云主机",
            "cloud_services-0-category": "iaas", "cloud_services-0-deployment": "public",
            "cloud_services-0-started_on": "2023-01-01", "cloud_services-0-ended_on": "",
            "cloud_services-0-payments-0-paid_on": "2024-01-01", "cloud_services-0-payments-0-amount": "120000",
            "cloud_services-1-provider": "", "cloud_services-1-service_name": "",
            "cloud_services-1-category": "iaas", "cloud_services-1-deployment": "public",
            "cloud_services-1-started_on": "", "cloud_services-1-ended_on": ""}
    response = client.post(f"/applications/{application_id}/edit", data=data, follow_redirects=True)
    assert response.status_code == 200
    assert "草稿已保存" in response.text
    assert 'value="12"' in response.text and 'value="天翼云"' in response.text
    assert response.text.count('name="cloud_services-') > 0
    assert "cloud_services-1-provider" not in response.text  # the blank row was dropped


def test_upload_and_download_evidence_in_scope(client, app, batch):
    register(client)
    application_id, page = new_application(client, batch)
    response = client.post(f"/applications/{application_id}/evidence",
                           data={"csrf_token": csrf_token(page.text), "indicator_code": "platform_iip",
                                 "file": (io.BytesIO(PDF_BYTES), "平台合同.pdf")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "已上传：平台合同.pdf" in response.text
    link = re.search(rf"/applications/{application_id}/evidence/(\d+)\"", response.text)
    download = client.get(f"/applications/{application_id}/evidence/{link.group(1)}")
    assert download.status_code == 200 and download.data == PDF_BYTES
    assert "attachment" in download.headers["Content-Disposition"]
    other = app.test_client()
    register(other, uscc=uscc_from_serial(43), email="other@example.com")
    assert other.get(f"/applications/{application_id}/evidence/{link.group(1)}").status_code == 404
    assert other.get(f"/applications/{application_id}").status_code == 404
    assert other.get(f"/applications/{application_id}/edit").status_code == 404
    reviewer = make_staff("reviewer", "320402")
    staff = app.test_client()
    login = staff.get("/login")
    staff.post("/login", data={"csrf_token": csrf_token(login.text), "email": reviewer.email, "password": PASSWORD})
    assert staff.get(f"/applications/{application_id}").status_code == 200
    assert staff.get(f"/applications/{application_id}/evidence/{link.group(1)}").status_code == 200
    assert staff.get(f"/applications/{application_id}/edit").status_code == 403


def test_disguised_upload_is_refused_with_a_message(client, batch):
    register(client)
    application_id, page = new_application(client, batch)
    response = client.post(f"/applications/{application_id}/evidence",
                           data={"csrf_token": csrf_token(page.text),
                                 "file": (io.BytesIO(b"#!/bin/sh\nrm -rf /"), "invoice.pdf")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert "仅支持 PDF、PNG、JPEG、XLSX、DOCX" in response.text


def test_incomplete_submission_lists_what_is_missing(client, batch):
    register(client)
    application_id, page = new_application(client, batch)
    response = client.post(f"/applications/{application_id}/submit",
                           data={"csrf_token": csrf_token(page.text), "pledge": "y"})
    assert response.status_code == 422
    assert "请填写此项" in response.text and "诚信承诺" in response.text
    # Each message names its item and links to it; the pledge was ticked, so it is not listed.
    summary = response.text[response.text.index('data-testid="submit-errors"'):]
    summary = summary[:summary.index("</div>")]
    items = re.findall(r'<li>(?:<a href="#([\w-]+)">([^<]+)</a>：)?([^<]+)</li>', summary)
    assert items and all(anchor and label for anchor, label, _message in items), items
    assert ("services", "云服务清单", "请至少填写一项正在使用的云服务。") in items
    assert ("ind-infra_compute", "使用的云计算资源", "请填写此项。") in items
    assert ("ind-infra_compute", "使用的云计算资源", "请上传该项的证明材料。") in items
    assert all(f'id="{anchor}"' in response.text for anchor, _label, _message in items)
    assert not any(anchor == "submit" for anchor, _label, _message in items)


def test_login_lockout_message(client, app):
    register(client)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/", follow_redirects=True).text)})
    for _ in range(10):
        page = client.get("/login")
        client.post("/login", data={"csrf_token": csrf_token(page.text), "email": "page@example.com",
                                    "password": "wrong-password1"})
    page = client.get("/login")
    response = client.post("/login", data={"csrf_token": csrf_token(page.text), "email": "page@example.com",
                                           "password": PASSWORD})
    assert response.status_code == 429
    assert "已暂停从此处登录" in response.text and "分钟后再试" in response.text


def test_scored_application_page_explains_the_score(client, app, api, batch):
    from rating.services.review import scoring_runs

    firm, token = api.register_firm()
    body = file_everything(api, token, batch)
    api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token)
    scoring_runs.score_application(body["id"])
    login = client.get("/login")
    email = api.get(f"/applications/{body['id']}", token=token).get_json()["enterprise_name"]
    assert email
    from rating.extensions import db
    from rating.models import User

    user = db.session.query(User).filter_by(enterprise_id=firm["id"]).one()
    client.post("/login", data={"csrf_token": csrf_token(login.text), "email": user.email, "password": PASSWORD})
    page = client.get(f"/applications/{body['id']}")
    assert page.status_code == 200
    assert "满足申报条件" in page.text and "门槛条件" in page.text and "逐项得分" in page.text
    assert "审核中" in page.text
    counted = re.search(r"计入的上云投入：([\d,.]+) 元", page.text).group(1)
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d\d", counted), counted       # as the gates write it
    client.get("/lang/en")
    english = client.get(f"/applications/{body['id']}")
    assert english.status_code == 200


def test_reviewer_pages_are_scoped(app, api, batch):
    own, other, city = (make_staff("reviewer", code) for code in ("320402", "320411", "320400"))
    application_id, firm_token = scored(api, batch, 3)
    reviewer = app.test_client()
    assert f"#{application_id}" in log_in(reviewer, own.email, follow_redirects=True).text          # lands on the queue
    page = reviewer.get(f"/applications/{application_id}")
    assert "审核决定" in page.text and 'value="approve"' not in page.text   # county: forward/return/reject

    outsider = app.test_client()
    log_in(outsider, other.email, follow_redirects=True)
    assert outsider.get(f"/applications/{application_id}").status_code == 404
    assert outsider.post(f"/reviews/{application_id}/decide", data={}).status_code in (400, 404)

    upper = app.test_client()
    log_in(upper, city.email, follow_redirects=True)
    page = upper.get(f"/applications/{application_id}")
    assert page.status_code == 200 and "审核决定" not in page.text        # not the city's stage yet
    response = upper.post(f"/reviews/{application_id}/decide",
                          data={"csrf_token": csrf_token(page.text), "decision": "approve", "version": "99"},
                          follow_redirects=True)
    assert "已被他人处理" in response.text
    assert api.get(f"/applications/{application_id}", token=firm_token).get_json()["status"] == "in_review"

    firm = app.test_client()
    register(firm, uscc=uscc_from_serial(44), email="x@example.com")
    assert firm.get("/reviews/").status_code == 403


def test_queue_page_shows_each_change_at_once(app, api, batch, monkeypatch):
    """A reviewer's queue page is rendered for each request: a new row, a decision, a new
    name and a due date passing each show at once, and another reviewer of the same
    county never sees the first one's rows."""
    from datetime import timedelta

    from flask import template_rendered

    from rating import clock
    from rating.extensions import db
    from rating.models import ReviewAssignment

    own = make_staff("reviewer", "320402")
    first_id, _ = scored(api, batch, 3)
    rendered = []

    def record(_sender, template, **_extra):
        if template.name == "reviews/queue.html":
            rendered.append(template.name)

    template_rendered.connect(record, app)
    reviewer = app.test_client()
    log_in(reviewer, own.email, follow_redirects=True)

    seen = len(rendered)                                            # the login lands on the queue
    page = reviewer.get("/reviews/").text
    assert f"#{first_id}" in page and f"#{first_id}" in reviewer.get("/reviews/").text
    assert len(rendered) == seen + 2                                # rendered each time

    second_id, _ = scored(api, batch, 3)                            # the same reviewer: the only one of the county
    page = reviewer.get("/reviews/").text
    template_rendered.disconnect(record, app)
    assert len(rendered) == seen + 3
    assert f"#{first_id}" in page and f"#{second_id}" in page and "共 2 件，其中逾期 0 件" in page

    own.name = "新名字审核员"
    db.session.commit()
    assert "新名字审核员" in reviewer.get("/reviews/").text

    due = db.session.execute(db.select(ReviewAssignment.due_at).where(
        ReviewAssignment.application_id == first_id)).scalar_one()
    real_now, later = clock.now, due + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    page = reviewer.get("/reviews/").text
    assert "共 2 件，其中逾期 2 件" in page and page.count('class="flag"') == 2
    monkeypatch.setattr(clock, "now", real_now)

    assert decide(api, api.token(own.email), first_id, "forward", "材料齐全").status_code == 201
    page = reviewer.get("/reviews/").text
    assert f"#{first_id}" not in page and f"#{second_id}" in page

    colleague = make_staff("reviewer", "320402")
    other = app.test_client()
    log_in(other, colleague.email, follow_redirects=True)
    theirs = other.get("/reviews/").text
    assert f"#{second_id}" not in theirs and "新名字审核员" not in theirs and colleague.name in theirs
