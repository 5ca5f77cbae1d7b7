"""Publicity through the HTML pages: an official publishes and closes, the public objects."""
from __future__ import annotations

import re

import pytest

from rating import clock
from tests.support.factories import make_batch, make_staff
from tests.support.flows import approved, decide, notice_body, scored
from tests.support.people import csrf_token, log_in, logged_in

pytestmark = pytest.mark.integration


def test_publish_object_and_close_in_html(app, api):
    batch = make_batch("js-2024")
    county, city = make_staff("reviewer", "320402"), make_staff("reviewer", "320400")
    official = make_staff("official", "320400")
    application_id, firm = scored(api, batch, 3)
    decide(api, api.token(county.email), application_id, "forward")
    decide(api, api.token(city.email), application_id, "approve")

    browser = app.test_client()
    log_in(browser, official.email, follow_redirects=True)
    page = browser.get("/publicity/manage")
    assert page.status_code == 200 and f'value="{application_id}"' in page.text
    today = clock.today().isoformat()
    missing = browser.post("/publicity/manage", data={"csrf_token": csrf_token(page.text), "title": "公示",
                                                       "starts_on": today, "ends_on": today})
    assert "请至少选择一个审核通过的申报" in missing.text
    created = browser.post("/publicity/manage", data={
        "csrf_token": csrf_token(page.text), "title": "常州市2026年度星级上云企业拟认定名单",
        "application_ids": str(application_id), "starts_on": today, "ends_on": today}, follow_redirects=True)
    assert "公示已发布" in created.text
    notice_id = int(re.search(r"/publicity/(\d+)\"", created.text).group(1))

    public = app.test_client()
    page = public.get(f"/publicity/{notice_id}")
    assert page.status_code == 200 and "常州市2026年度星级上云企业拟认定名单" in page.text
    enterprise = api.get(f"/applications/{application_id}", token=firm).get_json()["enterprise_name"]
    assert enterprise in page.text and "********" in page.text
    refused = public.post(f"/publicity/{notice_id}", data={"csrf_token": csrf_token(page.text),
                                                           "application_id": application_id, "name": "王五"})
    assert refused.status_code == 422 and "请写明异议理由" in refused.text
    assert f'<option value="{application_id}" selected>' in refused.text      # what was chosen is kept
    # No firm is named until the writer names one.
    assert '<option value="" selected>请选择</option>' in page.text
    unnamed = public.post(f"/publicity/{notice_id}", data={
        "csrf_token": csrf_token(page.text), "application_id": "", "name": "王五", "contact": "13900000001",
        "reason": "设备数量不实"})
    assert unnamed.status_code == 422 and "请选择对哪家企业提出异议。" in unnamed.text
    assert public.post(f"/publicity/{notice_id}", data={"application_id": application_id, "name": "王五",
                                                        "contact": "1", "reason": "x"}).status_code == 400  # CSRF
    sent = public.post(f"/publicity/{notice_id}", data={
        "csrf_token": csrf_token(page.text), "application_id": application_id, "name": "王五",
        "contact": "wangwu@example.com", "reason": "<script>alert(1)</script>设备数量不实"}, follow_redirects=True)
    assert "异议已收到" in sent.text

    manage = browser.get(f"/publicity/{notice_id}/manage")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;设备数量不实" in manage.text and "<script>alert" not in manage.text
    # On its last day it can be closed (API.md), and the page says what closing ends.
    assert "结束公示后不再受理异议" in manage.text and "disabled" not in manage.text
    closed = browser.post(f"/publicity/{notice_id}/close", data={"csrf_token": csrf_token(manage.text)},
                          follow_redirects=True)
    assert "0 家予以认定，1 家因异议暂缓" in closed.text
    objection_id = int(re.search(r"/objections/(\d+)/resolve", closed.text).group(1))
    resolved = browser.post(f"/publicity/{notice_id}/objections/{objection_id}/resolve", data={
        "csrf_token": csrf_token(closed.text), "outcome": "dismiss", "action": "", "comment": "经核查异议不成立"},
        follow_redirects=True)
    assert "异议已处理" in resolved.text
    assert api.get(f"/applications/{application_id}", token=firm).get_json()["status"] == "rated"


def test_each_objection_form_has_its_own_ids(app, api, people):
    batch = make_batch("js-2024")
    ids = [approved(api, batch, people)[0] for _ in range(2)]
    notice_id = api.post("/publicity-notices", notice_body(ids, days=5),
                         token=people["city_official"]).get_json()["id"]
    for application_id in ids:
        assert api.post(f"/publicity-notices/{notice_id}/objections", {
            "application_id": application_id, "name": "张三", "contact": "13900000000",
            "reason": "该企业未实际使用云服务。"}).status_code == 201
    official = make_staff("official", "320400", email="ids-official@example.com")
    manage = logged_in(app, official.email).get(f"/publicity/{notice_id}/manage").text
    element_ids = re.findall(r'\sid="([^"]+)"', manage)
    assert len(element_ids) == len(set(element_ids)), sorted(i for i in element_ids if element_ids.count(i) > 1)
    assert manage.count('name="outcome"') == 2 and 'for="outcome-' in manage
