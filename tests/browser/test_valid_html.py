"""Every page is valid HTML by the Nu HTML Checker (`--errors-only`): the pages that the
public (in Chinese and in English), a firm with a draft, a firm in review, a returned firm, a
rated firm, a firm whose claim waits, a county reviewer with a queue, an official and an admin
reach by following the site's links, and the pages with data (an application, the review, a
notice with objections, a rating, the verification, a password reset, an export job, the pages
that refused forms lead to), all checked in one run of vnu.jar."""
from __future__ import annotations

import io

import pytest
from flask import render_template
from sqlalchemy import select

from rating.extensions import db
from rating.models import User
from rating.services.accounts.password_reset import reset_token
from tests.support.claims import claim_body
from tests.support.factories import grant_rating, make_batch, make_staff
from tests.support.flows import approved, decide, export, file_everything, notice_body, scored
from tests.support.files import csv_bytes
from tests.support.html_check import Document, crawl, links, sent, vnu_errors
from tests.support.people import DECIDERS, firm_email, logged_in, staff_tokens

pytestmark = pytest.mark.integration

CERTIFICATE = "JS-2026-3-000001"


def rendered(app, template: str, **context) -> Document:
    """A page the site shows only when something fails: the database down, a server error."""
    with app.test_request_context("/"):
        return Document("public", template, render_template(template, **context))


def english(app):
    """A visitor who chose English."""
    client = app.test_client()
    client.get("/lang/en")
    return client


def test_every_page_is_valid_html(app, api, imported_firm, dashboard_ratings, tmp_path):
    batch = make_batch("js-2024")
    tokens = staff_tokens(api, {name: DECIDERS[name] for name in ("county", "city", "city_official")})
    publicised, _ = approved(api, batch, tokens)
    also_publicised, _ = approved(api, batch, tokens)          # two objection forms on the notice page
    notice = api.post("/publicity-notices", notice_body([publicised, also_publicised], days=10),
                      token=tokens["city_official"])
    assert notice.status_code == 201, notice.get_json()
    notice_id = notice.get_json()["id"]
    objection = api.post(f"/publicity-notices/{notice_id}/objections",
                         {"application_id": publicised, "name": "李四", "contact": "13900000000",
                          "reason": "该企业申报的云服务合同金额与实际支付记录不一致，请核实。"})
    assert objection.status_code == 201, objection.get_json()
    in_queue, _ = scored(api, batch, 3)
    returned, _ = scored(api, batch, 3)
    assert decide(api, tokens["county"], returned, "return", comment="请补充云服务付费凭证。").status_code == 201
    _firm, firm_token = api.register_firm("320402")
    draft = file_everything(api, firm_token, batch)["id"]
    rated = api.register_firm("320402")[0]["id"]
    held = grant_rating(rated, 3)
    held.certificate_no = CERTIFICATE
    db.session.commit()
    assert api.post("/enterprises", claim_body("claimant@example.com")).status_code == 202
    reviewer = make_staff("reviewer", "320402")
    official = make_staff("official", "320400")
    for conflict in ({"provider_name": "某云服务商"}, {"group_name": "某集团", "note": "亲属任职"}):
        assert api.post("/reviewer-conflicts", conflict, token=api.token(reviewer.email)).status_code == 201
    admin = make_staff("admin", None)

    public = app.test_client()
    official_client = logged_in(app, official.email)
    queued = export(official_client, format="pdf")              # the page of an export job (a worker's)
    assert queued.status_code == 302 and "/exports/" in queued.headers["Location"], queued.text[:300]
    rated_email = db.session.execute(select(User.email).where(User.enterprise_id == rated)).scalar_one()
    roles = {
        "public": (public, ["/", "/login", "/register", "/password/forgot", "/publicity/",
                            f"/publicity/{notice_id}", "/totals", f"/verify/{CERTIFICATE}", "/no-such-page",
                            f"/password/reset/{reset_token(admin)}"]),
        "public (en)": (english(app), ["/", "/register", f"/publicity/{notice_id}", "/totals",
                                       f"/verify/{CERTIFICATE}"]),
        "firm": (logged_in(app, firm_email(draft)), ["/", f"/applications/{draft}/edit",
                                                     f"/applications/{draft}", "/account/security",
                                                     "/account/password"]),
        "reviewer": (logged_in(app, reviewer.email), ["/", f"/applications/{in_queue}",
                                                      f"/applications/{publicised}"]),
        "official": (official_client, ["/", "/dashboard", f"/ratings/{CERTIFICATE}",
                                       queued.headers["Location"],
                                       f"/publicity/{notice_id}/manage", "/enterprise-claims/",
                                       "/dashboard?on=2024-02-30"]),
        "admin": (logged_in(app, admin.email), ["/", "/account/security"]),
        "claimant": (logged_in(app, "claimant@example.com"), ["/"]),      # the claim not yet confirmed
        "firm in review": (logged_in(app, firm_email(in_queue)), ["/", f"/applications/{in_queue}/withdraw"]),
        "returned firm": (logged_in(app, firm_email(returned)), ["/", f"/applications/{returned}/edit"]),
        "rated firm": (logged_in(app, rated_email), ["/", f"/ratings/{CERTIFICATE}"]),
    }
    documents, broken = [], []
    for who, (client, start) in roles.items():
        found, failed = crawl(client, who, start)
        documents += found
        broken += failed
    # The pages that forms lead to, refused ones with their errors beside the fields.
    firm, reviewing, admin_client = (roles[who][0] for who in ("firm", "reviewer", "admin"))
    bad_list = csv_bytes([["", "不是代码", "999999", "9", "二〇二四", "", "", "昨天"]])
    documents += [
        sent(public, "public", "/register", {"uscc": "123", "email": "x"}),
        sent(public, "public", "/login", {"email": "nobody@example.com", "password": "wrong-password-1"}),
        sent(public, "public", "/password/forgot", {"email": "nobody@example.com"}),
        sent(public, "public", f"/publicity/{notice_id}", {"contact": "abc"}),
        sent(firm, "firm", "/account/password",
             {"current_password": "not-my-password1", "new_password": "short"}),
        sent(reviewing, "reviewer", f"/reviews/{in_queue}/decide", {}, page=f"/applications/{in_queue}"),
        sent(official_client, "official", "/ratings/import", {"file": (io.BytesIO(bad_list), "list.csv")}),
        sent(official_client, "official", "/reviews/blacklist", {}),
        sent(reviewing, "reviewer", "/reviews/conflicts/", {"uscc": "x", "group_name": "y"}),
        sent(official_client, "official", "/reviews/blacklist", {"enterprise": "测试企业", "reason": "x"}),
        sent(official_client, "official", "/providers/", {"name": ""}),
        sent(official_client, "official", "/publicity/manage", {}),
        sent(admin_client, "admin", "/account/manage", {"email": "nobody@example.com", "deactivate": "y"},
             page="/account/security"),
        sent(official_client, "official", "/staff/invite", {"email": "x", "role": "admin"}, page="/staff"),
        sent(firm, "firm", "/account/firm-users/invite", {"email": "x"}, page="/account/firm-users"),
        sent(firm, "firm", "/account/profile", {"name": "", "locale": "fr"}),
        sent(admin_client, "admin", "/batches/new", {"name": "", "levels": ["x"]}),
        sent(admin_client, "admin", "/guide-editions", {"source": "code: js-2099\nlevels: {}\n", "media_type": "text/yaml"}),
        sent(official_client, "official", f"/quotas/{batch.id}", {"district_code": "320100", "level": "3",
                                                                  "kind": "count", "max_count": "2"}, page="/quotas"),
        rendered(app, "unavailable.html", message="系统繁忙，请稍后再试。"),
        rendered(app, "error.html", message="服务器内部错误。", status=500),
    ]
    assert not broken, "pages that fail:\n" + "\n".join(broken)
    # Every role's key pages are among those checked (the crawl did not stop at a login page).
    checked = {(d.who, d.url) for d in documents}
    for who, page in [("firm", f"/applications/{draft}/edit"), ("reviewer", f"/applications/{in_queue}"),
                      ("official", f"/ratings/{CERTIFICATE}"), ("official", f"/publicity/{notice_id}/manage"),
                      ("public", f"/verify/{CERTIFICATE}"), ("admin", "/account/security"),
                      ("claimant", "/applications/"), ("rated firm", f"/ratings/{CERTIFICATE}"),
                      ("public (en)", f"/publicity/{notice_id}"),
                      ("firm in review", f"/applications/{in_queue}"),
                      ("returned firm", f"/applications/{returned}/edit"),
                      ("reviewer", "/reviews/conflicts/"), ("official", "/audit/"),
                      ("official", "/reviews/conflicts/"), ("official", "/providers/"),
                      ("official", "/batches"), ("admin", "/batches/new"),
                      ("official", f"/batches/{batch.id}/city-deadline"), ("official", "/quotas"),
                      ("admin", "/guide-editions"), ("admin", "/guide-editions/js-2024")]:
        assert (who, page) in checked, (who, page)
        html = next(d.html for d in documents if (d.who, d.url) == (who, page))
        assert "/logout" in html or who.startswith("public")
        assert ('<html lang="en"' in html) == who.endswith("(en)")

    errors = vnu_errors(documents, tmp_path)
    assert not errors, f"{len(errors)} HTML errors in {len(documents)} pages:\n" + "\n".join(errors)


def test_the_check_names_each_error_with_its_page_and_line(tmp_path):
    page = ('<!DOCTYPE html>\n<html lang="zh-CN"><head><title>x</title></head>\n'
            '<body><p id="a"></p><p id="a"></p>')
    valid = '<!DOCTYPE html>\n<html lang="zh-CN"><head><title>x</title></head><body><p>好</p></body></html>'
    errors = vnu_errors([Document("firm", "/valid", valid), Document("firm", "/twice", page)], tmp_path)
    assert len(errors) == 1 and errors[0].startswith("firm /twice line 3: Duplicate ID “a”."), errors


def test_the_crawl_keeps_to_the_site_pages():
    html = """<a href="/ratings/?page=2#top">next</a> <a href="https://example.com/">elsewhere</a>
              <a href="/ratings/X/certificate.pdf">pdf</a> <a href="/applications/1/evidence/2">file</a>
              <a href="/lang/en">English</a> <a href="mailto:a@b.cn">mail</a> <a href="edit">edit</a>"""
    assert links(html, "http://localhost/applications/1") == ["/ratings/?page=2", "/applications/edit"]
