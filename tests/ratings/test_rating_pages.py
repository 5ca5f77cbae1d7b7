"""Ratings through the HTML pages: the firm's certificates, officials' actions, notice progress."""
from __future__ import annotations

import hashlib
import re

from sqlalchemy import select

import pytest

from rating.extensions import db
from rating.models import Certificate, Rating, User
from rating.services.ratings import certificates
from tests.support.factories import make_batch, make_staff
from tests.support.flows import approved, notice_body
from tests.support.people import csrf_token, log_in

pytestmark = pytest.mark.integration


def _people(api):
    users = {name: make_staff(role, code) for name, role, code in [
        ("county", "reviewer", "320402"), ("city", "reviewer", "320400"),
        ("city_official", "official", "320400"), ("other_city_official", "official", "320100")]}
    return users, {name: api.token(user.email) for name, user in users.items()}


def _rated(api, people_tokens, count=1):
    batch = make_batch("js-2024")
    ids, firms = [], []
    for _ in range(count):
        application_id, firm_token = approved(api, batch, people_tokens)
        ids.append(application_id)
        firms.append(firm_token)
    notice_id = api.post("/publicity-notices", notice_body(ids), token=people_tokens["city_official"]).get_json()["id"]
    assert api.post(f"/publicity-notices/{notice_id}/close", token=people_tokens["city_official"]).status_code == 200
    db.session.expire_all()
    ratings = [db.session.execute(select(Rating).where(Rating.application_id == i)).scalar_one() for i in ids]
    return notice_id, ratings


def _firm_email(rating: Rating) -> str:
    return db.session.execute(select(User.email).where(User.enterprise_id == rating.enterprise_id)).scalar_one()


def test_the_firm_finds_and_downloads_its_certificate(app, api):
    users, tokens = _people(api)
    _notice, (rating, other) = _rated(api, tokens, count=2)
    number = rating.certificate_no
    firm = app.test_client()
    log_in(firm, _firm_email(rating), follow_redirects=True)
    listing = firm.get("/ratings/")
    assert listing.status_code == 200 and number in listing.text and other.certificate_no not in listing.text
    page = firm.get(f"/ratings/{number}")
    assert "证书正在生成" in page.text and "下载证书 PDF" not in page.text
    pending = firm.get(f"/ratings/{number}/certificate.pdf", follow_redirects=True)
    assert "证书正在生成，请稍后再试" in pending.text

    assert certificates.render(rating.id) == "rendered"
    page = firm.get(f"/ratings/{number}")
    assert "下载证书 PDF" in page.text and "重新生成证书" not in page.text and "撤销认定" not in page.text
    pdf = firm.get(f"/ratings/{number}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert hashlib.sha256(pdf.data).hexdigest() == db.session.get(Certificate, rating.id).sha256
    assert firm.get(f"/ratings/{other.certificate_no}").status_code == 404
    assert firm.get(f"/ratings/{other.certificate_no}/certificate.pdf").status_code == 404
    # A firm cannot revoke, even its own rating.
    assert firm.post(f"/ratings/{number}/revoke", data={"csrf_token": csrf_token(page.text), "reason": "x"},
                     follow_redirects=True).status_code == 200
    db.session.expire_all()
    assert db.session.get(Rating, rating.id).status == "valid"

    reviewer = app.test_client()
    log_in(reviewer, users["county"].email, follow_redirects=True)
    assert reviewer.get("/ratings/").status_code == 403
    assert reviewer.get(f"/ratings/{number}/certificate.pdf").status_code == 403
    anonymous = app.test_client()
    assert anonymous.get(f"/ratings/{number}/certificate.pdf").status_code == 302       # to the login page


def test_officials_regenerate_record_payment_and_revoke(app, api):
    users, tokens = _people(api)
    _notice, (rating,) = _rated(api, tokens)
    number = rating.certificate_no
    certificates.render(rating.id)
    official = app.test_client()
    log_in(official, users["city_official"].email, follow_redirects=True)
    listing = official.get("/ratings/?level=3&status=valid")
    assert number in listing.text
    assert number not in official.get("/ratings/?level=5").text
    page = official.get(f"/ratings/{number}")
    assert "50,000 元" in page.text and "待拨付" in page.text
    # The blacklist options are checkboxes inside their labels, and the revoke button reads as final.
    for name in ("blacklist_enterprise", "blacklist_provider"):
        assert re.search(rf'<label class="check" for="{name}"><input[^>]*id="{name}"[^>]*type="checkbox"', page.text)
    assert '<button type="submit" class="button danger">撤销认定</button>' in page.text

    token = csrf_token(page.text)
    regenerated = official.post(f"/ratings/{number}/regenerate", data={"csrf_token": token}, follow_redirects=True)
    assert "已提交重新生成" in regenerated.text and "下载证书 PDF" in regenerated.text   # the old file meanwhile
    db.session.expire_all()
    assert db.session.get(Certificate, rating.id).requested_generation == 2
    assert official.post(f"/ratings/{number}/regenerate", data={}).status_code == 400          # CSRF

    no_date = official.post(f"/ratings/{number}/disbursement", data={"csrf_token": token, "state": "paid"})
    assert no_date.status_code == 422 and "请填写拨付日期" in no_date.text
    paid = official.post(f"/ratings/{number}/disbursement",
                         data={"csrf_token": token, "state": "paid", "disbursed_on": rating.granted_on.isoformat(),
                               "note": "第一笔"}, follow_redirects=True)
    assert "奖励拨付状态已更新" in paid.text and "已拨付" in paid.text

    empty = official.post(f"/ratings/{number}/revoke", data={"csrf_token": token, "reason": ""})
    assert empty.status_code == 422 and "请填写撤销原因" in empty.text
    revoked = official.post(f"/ratings/{number}/revoke", data={"csrf_token": token, "reason": "<b>材料造假</b>"},
                            follow_redirects=True)
    assert "已撤销该认定" in revoked.text and "&lt;b&gt;材料造假&lt;/b&gt;" in revoked.text
    db.session.expire_all()
    assert db.session.get(Rating, rating.id).status == "revoked"

    stranger = app.test_client()
    log_in(stranger, users["other_city_official"].email, follow_redirects=True)
    assert stranger.get(f"/ratings/{number}").status_code == 404
    assert number not in stranger.get("/ratings/").text


def test_the_notice_page_shows_certificate_progress(app, api):
    users, tokens = _people(api)
    notice_id, ratings = _rated(api, tokens, count=2)
    official = app.test_client()
    log_in(official, users["city_official"].email, follow_redirects=True)
    page = official.get(f"/publicity/{notice_id}/manage")
    assert 'id="certificate-progress"' in page.text and 'data-poll="1"' in page.text
    assert "已生成 0 / 2 份，失败 0 份" in page.text and "js/progress.js" in page.text
    assert official.get(f"/publicity/{notice_id}/certificates/progress").get_json() == {
        "total": 2, "done": 0, "failed": 0, "finished": False}
    for rating in ratings:
        certificates.render(rating.id)
    assert official.get(f"/publicity/{notice_id}/certificates/progress").get_json()["finished"] is True
    page = official.get(f"/publicity/{notice_id}/manage")
    assert "已生成 2 / 2 份" in page.text and 'data-poll="1"' not in page.text

    again = official.post(f"/publicity/{notice_id}/certificates", data={"csrf_token": csrf_token(page.text)},
                          follow_redirects=True)
    assert "已提交 2 份证书的生成" in again.text and 'data-poll="1"' in again.text

    stranger = app.test_client()
    log_in(stranger, users["other_city_official"].email, follow_redirects=True)
    assert stranger.get(f"/publicity/{notice_id}/certificates/progress").status_code == 404
    assert stranger.post(f"/publicity/{notice_id}/certificates",
                         data={"csrf_token": csrf_token(page.text)}).status_code in (400, 404)
