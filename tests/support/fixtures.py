"""The fixtures every area shares, registered by tests/conftest.py as a pytest plugin."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from rating import clock
from rating.extensions import db
from rating.models import Enterprise
from rating.services.reporting import imports
from tests.support import access
from tests.support.claims import IMPORTED, IMPORTED_NAME, NUMBER
from tests.support.factories import grant_rating, make_batch
from tests.support.files import csv_bytes
from tests.support.people import DECIDERS, staff_tokens


@pytest.fixture()
def batch(app):
    """An open batch of the js-2024 edition."""
    return make_batch("js-2024")


@pytest.fixture()
def people(api, app):
    """Tokens of the DECIDERS: reviewers at each stage and officials in and out of 常州's scope."""
    return staff_tokens(api, DECIDERS)


@pytest.fixture()
def dashboard_ratings(api, app):
    """常州 (3204): 320402 three firms (3★, 4★, 5★), 320411 one 3★; 南京 (3201): 320102 one
    3★, one 4★ revoked last year; 无锡 (3202) one 4★ granted in 2022 and long expired."""
    today = clock.today()
    firms = {}

    def firm(code, name):
        body, _token = api.register_firm(code)
        db.session.execute(update(Enterprise).where(Enterprise.id == body["id"]).values(name=name))
        firms[name] = body
        return body["id"]

    grant_rating(firm("320402", "天宁甲"), 3, today - timedelta(days=400))
    grant_rating(firm("320402", "天宁乙"), 4, today - timedelta(days=30))
    grant_rating(firm("320402", "天宁丙"), 5, today - timedelta(days=10))
    grant_rating(firm("320411", "新北甲"), 3, today - timedelta(days=20))
    grant_rating(firm("320102", "玄武甲"), 3, today - timedelta(days=20))
    revoked = grant_rating(firm("320102", "玄武乙"), 4, today - timedelta(days=500))
    revoked.status, revoked.status_changed_on, revoked.status_reason = "revoked", today - timedelta(days=300), "x"
    old = grant_rating(firm("320205", "锡山甲"), 4, date(2022, 1, 10))
    old.valid_until = date(2024, 1, 9)
    db.session.commit()
    return firms


@pytest.fixture()
def imported_firm(app):
    """A firm known only from an imported list, with one 3★ rating of 2024."""
    report = imports.run("list.csv", csv_bytes([[IMPORTED_NAME, IMPORTED, "320402", "3", "2024", NUMBER, "第一批",
                                                 "2024-06-01"]]))
    db.session.commit()
    assert report.imported == 1, report.errors
    return db.session.execute(select(Enterprise).where(Enterprise.uscc == IMPORTED)).scalar_one()


@pytest.fixture()
def access_world(api, app):
    return access.make_world(api, app)
