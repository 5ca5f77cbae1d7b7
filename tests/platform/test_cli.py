"""Commands of API.md: users create, guides load (editions in use are frozen), demo seed, doctor."""
from __future__ import annotations

import copy

import pytest

from rating.errors import Conflict
from rating.extensions import db
from rating.rules.editions import parse_edition
from rating.services.reference import get_edition, install_edition
from tests.support.factories import make_batch

pytestmark = pytest.mark.integration


def test_users_create(runner, api, redis_server):
    import json

    import redis

    result = runner.invoke(args=["users", "create", "--email", "Reviewer@Bureau.example", "--password", "Secret123",
                                 "--role", "reviewer", "--jurisdiction", "320402", "--name", "张审核"])
    assert result.exit_code == 0, result.output
    # Work that waited for a reviewer there is routed now (published after the commit).
    published = [json.loads(m) for m in redis.Redis.from_url(redis_server.url(1)).lrange("celery", 0, -1)]
    assert [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in published] == [
        ("workers.tasks.route_waiting", "('320402',)")]
    assert api.post("/tokens", {"email": "reviewer@bureau.example", "password": "Secret123"}).status_code == 201
    again = runner.invoke(args=["users", "create", "--email", "reviewer@bureau.example", "--password", "x",
                                "--role", "reviewer", "--jurisdiction", "320402"])
    assert again.exit_code != 0 and "已注册" in again.output
    unknown = runner.invoke(args=["users", "create", "--email", "a@b.example", "--password", "x",
                                  "--role", "official", "--jurisdiction", "999999"])
    assert unknown.exit_code != 0 and "999999" in unknown.output


def test_edition_in_use_is_frozen(app):
    edition = get_edition("js-2022")
    changed = copy.deepcopy(dict(edition.document))
    changed["levels"]["3"]["pass_score"] = 10
    assert install_edition(parse_edition(changed)) == "updated"   # not used yet
    db.session.commit()
    make_batch("js-2024")
    used = copy.deepcopy(dict(get_edition("js-2024").document))
    used["levels"]["3"]["pass_score"] = 10
    with pytest.raises(Conflict):
        install_edition(parse_edition(used))
    assert install_edition(get_edition("js-2024")) == "unchanged"
    install_edition(edition)
    db.session.commit()


def test_guides_load_reports_bad_files(runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("code: x\ndimensions: []\nlevels: nope\n", encoding="utf-8")
    result = runner.invoke(args=["guides", "load", str(bad)])
    assert result.exit_code == 1
    assert "levels" in result.output


def test_demo_seed_is_idempotent(runner):
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0
    assert "firm@demo.rating.test" in second.output
    from sqlalchemy import func, select

    from rating.extensions import db
    from rating.models import Batch, User

    # Six staff (the city official publishes 3★ and 4★ notices) and three firms, once.
    assert db.session.execute(select(func.count(User.id))).scalar_one() == 9
    assert "city-official@demo.rating.test" in second.output
    # One demo application, filed and submitted once, complete enough to pass every gate.
    from rating.models import Application
    from rating.services.review import scoring_runs

    [filed] = db.session.execute(select(Application)).scalars().all()
    assert filed.status == "submitted" and filed.target_level == 3
    assert f"demo application #{filed.id}:" in first.output and f"demo application #{filed.id}:" in second.output
    assert scoring_runs.score_application(filed.id) == "scored"
    db.session.expire_all()
    assert filed.current_score.passed, filed.current_score
    batches = db.session.execute(select(Batch)).scalars().all()
    assert len(batches) == 1 and batches[0].year == __import__("rating.clock").clock.today().year
    # The demo rating has a certificate number, printed both times, and verifiable.
    import re

    numbers = [re.findall(r"demo rating (\S+):", out) for out in (first.output, second.output)]
    assert numbers[0] == numbers[1] and len(numbers[0]) == 1
    assert runner.app.test_client().get(f"/api/v1/verify/{numbers[0][0]}").get_json()["status"] == "valid"


def test_doctor(runner):
    result = runner.invoke(args=["doctor"])
    assert "[ok] database" in result.output
    # `make test` installs libharfbuzz-subset0 and fonts-noto-cjk, so every check passes.
    assert "[ok] HarfBuzz subsetting" in result.output and "[ok] CJK font" in result.output
    assert "FAIL" not in result.output and result.exit_code == 0, result.output


def test_doctor_fails_loudly_without_harfbuzz_subsetting_or_fonts(runner, monkeypatch):
    from rating.platform import doctor

    monkeypatch.setattr(doctor, "harfbuzz_subset_available", lambda: False)
    monkeypatch.setattr(doctor, "cjk_fonts", lambda: [])
    monkeypatch.setattr(doctor, "rare_character_fonts", lambda: [])
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "[FAIL] HarfBuzz subsetting: libharfbuzz-subset0 missing" in result.output
    assert "[FAIL] CJK font: no Chinese font found (install fonts-noto-cjk)" in result.output
    assert "[FAIL] rare-character font" in result.output and "3 problem(s) found." in result.output


def test_certificates_render_command(runner, api):
    from datetime import timedelta

    from rating import clock
    from rating.extensions import db
    from rating.models import Rating

    firm, _token = api.register_firm("320402")
    batch = make_batch("js-2024")
    today = clock.today()
    db.session.add(Rating(enterprise_id=firm["id"], level=3, year=today.year, batch_id=batch.id,
                          certificate_no=f"JS-{today.year}-{batch.number}-3-000777", granted_on=today,
                          valid_until=today + timedelta(days=1000), status="valid"))
    db.session.commit()
    number = f"JS-{today.year}-{batch.number}-3-000777"
    first = runner.invoke(args=["certificates", "render", number])
    assert first.exit_code == 0 and first.output.strip() == f"{number}: rendered"
    assert runner.invoke(args=["certificates", "render", number]).output.strip() == f"{number}: current"
    unknown = runner.invoke(args=["certificates", "render", "JS-1999-1-3-000001"])
    assert unknown.exit_code == 1 and "未找到该证书编号" in unknown.output
