"""The guide edition pages (administrators: list with the batches using each, upload checked
path by path, preview with a sample score, side-by-side diff) and the quotas page (officials:
every county's cap per level, set as a count or a share of the registered firms)."""
from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import delete

from rating.extensions import db
from rating.models import GuideEdition
from rating.services.reference import GUIDES_DIR
from tests.support.factories import make_batch, make_staff
from tests.support.people import csrf_token, logged_in

pytestmark = pytest.mark.integration

SHIPPED = (GUIDES_DIR / "js-2024.yaml").read_text(encoding="utf-8")


def assert_unique_ids(html: str) -> None:
    twice = [i for i, n in Counter(re.findall(r'\sid="([^"]+)"', html)).items() if n > 1]
    assert not twice, twice


@pytest.fixture()
def admin_client(app):
    yield logged_in(app, make_staff("admin", None).email)
    db.session.rollback()
    db.session.execute(delete(GuideEdition).where(GuideEdition.code.notin_(("js-2022", "js-2024"))))
    db.session.commit()


def test_admin_lists_uploads_previews_and_compares(admin_client):
    batch = make_batch("js-2024")
    page = admin_client.get("/guide-editions")
    assert page.status_code == 200 and batch.name in page.text and "js-2022" in page.text
    assert_unique_ids(page.text)
    bad = SHIPPED.replace("code: js-2024", "code: js-2041", 1).replace("pass_score: 75", "pass_score: many")
    refused = admin_client.post("/guide-editions", data={"csrf_token": csrf_token(page.text), "source": bad,
                                                         "media_type": "text/yaml"})
    assert refused.status_code == 422 and "levels.4.pass_score" in refused.text
    assert db.session.get(GuideEdition, "js-2041") is None
    good = SHIPPED.replace("code: js-2024", "code: js-2041", 1).replace("pass_score: 75", "pass_score: 70")
    saved = admin_client.post("/guide-editions", data={"csrf_token": csrf_token(page.text), "source": good,
                                                       "media_type": "text/yaml"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/guide-editions/js-2041")
    preview = admin_client.get("/guide-editions/js-2041")
    assert preview.status_code == 200 and 'data-testid="sample-4"' in preview.text and "preview-form" in preview.text
    assert_unique_ids(preview.text)
    diff = admin_client.get("/guide-editions/diff?a=js-2024&b=js-2041")
    assert diff.status_code == 200 and "pass_score: 75" in diff.text and "pass_score: 70" in diff.text
    assert_unique_ids(diff.text)


def test_edition_pages_are_for_admins(app):
    client = logged_in(app, make_staff("official", "320000").email)
    assert client.get("/guide-editions").status_code == 403
    assert app.test_client().get("/guide-editions").status_code == 302


def test_official_sets_quotas_on_the_page(app, batch, api):
    for _ in range(3):
        api.register_firm("320402")
    client = logged_in(app, make_staff("official", "320400").email)
    assert f'href="/quotas?batch_id={batch.id}"' in client.get("/batches").text      # each batch links its quotas
    page = client.get("/quotas")
    assert page.status_code == 200 and 'data-testid="quota-320402-3"' in page.text and "320100" not in page.text
    assert_unique_ids(page.text)
    saved = client.post(f"/quotas/{batch.id}", data={
        "csrf_token": csrf_token(page.text), "batch_id": batch.id, "district_code": "320402", "level": "3",
        "kind": "percent", "percent": "50", "base_source": "firms", "max_count": ""})
    assert saved.status_code == 302, saved.text[:3000]
    table = client.get(f"/quotas?batch_id={batch.id}").text
    cell = re.search(r'data-testid="quota-320402-3">(.*?)</td>', table, re.S).group(1)
    assert "上限 1" in cell and "剩余 1" in cell and "本县已注册企业" in cell
    refused = client.post(f"/quotas/{batch.id}", data={
        "csrf_token": csrf_token(page.text), "batch_id": batch.id, "district_code": "320100", "level": "3",
        "kind": "count", "max_count": "2"})
    assert refused.status_code == 422
