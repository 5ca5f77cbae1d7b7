"""Guide editions through the API on PostgreSQL: the list with what is in use, the source as
loaded, uploads checked completely (every problem by its path and YAML line), 409 for a
code that exists, and an edition in use never changes."""
from __future__ import annotations

import json

import pytest
import yaml
from sqlalchemy import delete, select

from rating.extensions import db
from rating.models import AuditEntry, GuideEdition
from rating.services.reference import GUIDES_DIR
from tests.support.factories import make_batch
from tests.support.people import staff_tokens

pytestmark = pytest.mark.integration

SHIPPED = (GUIDES_DIR / "js-2024.yaml").read_text(encoding="utf-8")


@pytest.fixture()
def tokens(api, app):
    yield staff_tokens(api, {"admin": ("admin", None), "official": ("official", "320000")})
    db.session.rollback()      # guide_editions survive the tests' truncation: forget the uploads
    db.session.execute(delete(GuideEdition).where(GuideEdition.code.notin_(("js-2022", "js-2024"))))
    db.session.commit()


def upload(api, token, body: str, content_type: str = "text/yaml"):
    return api.client.post("/api/v1/guide-editions", data=body.encode("utf-8"),
                           headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})


def test_list_says_which_editions_are_in_use(api, app):
    make_batch("js-2024")
    listed = {e["code"]: e for e in api.get("/guide-editions").get_json()}
    assert listed["js-2024"]["in_use"] is True and listed["js-2022"]["in_use"] is False
    assert listed["js-2024"]["levels"] == [3, 4, 5] and listed["js-2024"]["title"].startswith("江苏省")


def test_source_is_the_document_as_loaded(api, app):
    response = api.client.get("/api/v1/guide-editions/js-2024/source")
    assert response.status_code == 200 and response.mimetype == "text/yaml"
    assert response.get_data(as_text=True) == SHIPPED
    assert api.client.get("/api/v1/guide-editions/nope/source").status_code == 404


def test_an_admin_uploads_a_new_code_yaml_or_json(api, tokens):
    body = SHIPPED.replace("code: js-2024", "code: js-2026", 1)
    created = upload(api, tokens["admin"], body)
    assert created.status_code == 201 and created.get_json() == {"code": "js-2026"}
    assert api.client.get("/api/v1/guide-editions/js-2026/source").get_data(as_text=True) == body
    assert api.get("/guide-editions/js-2026").status_code == 200
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "guide_edition.upload")).scalar_one()
    assert entry.object_id == "js-2026"
    document = {**yaml.safe_load(SHIPPED), "code": "js-2027"}
    as_json = json.dumps(document, ensure_ascii=False)
    assert upload(api, tokens["admin"], as_json, "application/json").status_code == 201
    source = api.client.get("/api/v1/guide-editions/js-2027/source")
    assert source.mimetype == "application/json" and source.get_data(as_text=True) == as_json


def test_only_admins_upload(api, tokens):
    body = SHIPPED.replace("code: js-2024", "code: js-2031", 1)
    assert upload(api, tokens["official"], body).status_code == 403
    assert api.client.post("/api/v1/guide-editions", data=body, content_type="text/yaml").status_code == 401
    assert db.session.get(GuideEdition, "js-2031") is None


def test_an_existing_code_is_a_conflict_and_an_edition_in_use_never_changes(api, tokens):
    make_batch("js-2024")
    changed = SHIPPED.replace("pass_score: 52", "pass_score: 40")
    refused = upload(api, tokens["admin"], changed)
    assert refused.status_code == 409 and "js-2024" in refused.get_json()["error"]["message"]
    assert api.client.get("/api/v1/guide-editions/js-2024/source").get_data(as_text=True) == SHIPPED


def test_every_problem_is_named_by_its_path_and_line(api, tokens):
    document = yaml.safe_load(SHIPPED)
    lines = SHIPPED.splitlines()
    body = SHIPPED.replace("code: js-2024", "code: js-2032", 1).replace("pass_score: 75", "pass_score: high")
    choice = next(i for i, ind in enumerate(document["indicators"]) if ind["type"] == "choice")
    choice_code = document["indicators"][choice]["code"]
    start = body.index(f"- code: {choice_code}\n")
    options = body.index("    options:", start)
    body = body[:options] + "    options: []\n    unused_" + body[options + 4:]
    body = body.replace("title_en: Jiangsu", "title_english: Jiangsu", 1)
    refused = upload(api, tokens["admin"], body)
    assert refused.status_code == 422, refused.get_json()
    error = refused.get_json()["error"]
    assert set(error["fields"]) == {"levels.4.pass_score", f"indicators[{choice}].options", "title_en"}
    line = next(n for n, text in enumerate(body.splitlines(), 1) if "pass_score: high" in text)
    assert f"第 {line} 行 levels.4.pass_score" in error["message"]
    assert db.session.get(GuideEdition, "js-2032") is None and lines


def test_unparsable_or_untyped_sources_are_refused(api, tokens):
    broken = upload(api, tokens["admin"], "code: js-2026\nlevels: [1,\n")
    assert broken.status_code == 422 and "第 3 行" in broken.get_json()["error"]["message"]
    assert upload(api, tokens["admin"], SHIPPED, "text/plain").status_code == 422
    assert upload(api, tokens["admin"], "[1, 2]", "application/json").get_json()["error"]["fields"] != {}
