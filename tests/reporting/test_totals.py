"""Totals on PostgreSQL, table-driven: grants, supersessions, revocations and expiries across dates."""
from __future__ import annotations

from datetime import date

import pytest

from rating.extensions import db
from rating.models import Rating

pytestmark = pytest.mark.integration

# firm: (district, industry); ratings: (firm, level, year, granted, valid_until, status, changed_on)
FIRMS = {"A": ("320402", "C"), "B": ("320411", "C"), "C": ("320102", "I"), "D": ("320102", "C"),
         "E": ("320205", "C"), "F": ("320402", "I")}
RATINGS = [
    ("A", 3, 2024, date(2024, 6, 1), date(2027, 5, 31), "superseded", date(2025, 6, 1)),
    ("A", 4, 2025, date(2025, 6, 1), date(2028, 5, 31), "valid", None),
    ("B", 3, 2024, date(2024, 6, 1), date(2027, 5, 31), "revoked", date(2025, 1, 10)),
    ("C", 3, 2023, date(2023, 1, 1), date(2025, 12, 31), "valid", None),          # expires
    ("D", 5, 2025, date(2025, 3, 1), date(2028, 2, 28), "valid", None),
    ("E", 3, 2022, date(2022, 12, 31), date(2025, 12, 30), "valid", None),        # imported, expires
    # Imported lists may hold a lower and a higher level side by side, neither superseded.
    ("F", 3, 2024, date(2024, 3, 1), date(2027, 2, 28), "valid", None),
    ("F", 4, 2025, date(2025, 3, 1), date(2028, 2, 28), "valid", None),
]


@pytest.fixture()
def ratings(api, app):
    ids = {}
    for name, (district, industry) in FIRMS.items():
        firm, _token = api.register_firm(district, industry=industry)
        ids[name] = firm["id"]
    for firm, level, year, granted, until, status, changed in RATINGS:
        db.session.add(Rating(enterprise_id=ids[firm], level=level, year=year, granted_on=granted,
                              valid_until=until, status=status, status_changed_on=changed,
                              status_reason="x" if changed else None))
    db.session.commit()
    return ids


CASES = [
    # (on, query, {key: (count, rank)} of the non-empty rows, total)
    ("2024-12-01", "group_by=city", {"320400": (3, 1), "320100": (1, 2), "320200": (1, 2)}, 5),
    ("2025-07-01", "group_by=city", {"320100": (2, 1), "320400": (2, 1), "320200": (1, 3)}, 5),
    ("2025-07-01", "group_by=level", {"3": (3, 1), "4": (2, 2), "5": (1, 3)}, 5),
    ("2025-07-01", "group_by=city&level=3", {"320100": (1, 1), "320200": (1, 1)}, 2),
    ("2025-07-01", "group_by=city&level=4", {"320400": (2, 1)}, 2),
    ("2025-07-01", "group_by=district&city=320400", {"320402": (2, 1)}, 2),
    ("2025-07-01", "group_by=year", {"2025": (3, 1), "2024": (1, 2), "2023": (1, 2), "2022": (1, 2)}, 5),
    ("2025-07-01", "group_by=industry", {"C": (3, 1), "I": (2, 2)}, 5),
    ("2025-07-01", "group_by=level&year=2024", {"3": (1, 1)}, 1),
    ("2026-01-01", "group_by=city", {"320400": (2, 1), "320100": (1, 2)}, 3),
    ("2026-01-01", "group_by=city&city=320100", {"320100": (1, 2)}, 1),
    ("2030-01-01", "group_by=city", {}, 0),
]


@pytest.mark.parametrize("on, query, expected, total", CASES)
def test_totals(api, ratings, on, query, expected, total):
    body = api.get(f"/totals?{query}&on={on}").get_json()          # public: no token
    rows = {row["key"]: (row["count"], row["rank"]) for row in body["rows"] if row["count"]}
    assert (rows, body["total"]) == (expected, total), body
    assert body["group_by"] == dict(p.split("=") for p in query.split("&"))["group_by"]


def test_every_city_is_ranked_even_with_none(api, ratings):
    body = api.get("/totals?group_by=city&on=2025-07-01").get_json()
    assert len(body["rows"]) == 13
    last = body["rows"][-1]
    assert last["count"] == 0 and last["rank"] == 4          # 2, 2, 1 ahead of it
    assert {r["key"]: r["name"] for r in body["rows"]}["320400"] == "常州市"


@pytest.mark.parametrize("query, field", [("group_by=county", "group_by"), ("on=2025-13-01", "on"),
                                          ("city=32", "city"), ("level=x", "level"), ("year=1800", "year")])
def test_bad_parameters_are_named(api, app, query, field):
    response = api.get(f"/totals?{query}")
    assert response.status_code == 422 and field in response.get_json()["error"]["fields"]


def test_today_is_the_default_and_counts_a_new_grant(api, ratings):
    from rating import clock
    from tests.support.factories import grant_rating

    before = api.get("/totals?group_by=level").get_json()
    grant_rating(ratings["B"], 3, clock.today())
    after = api.get("/totals?group_by=level").get_json()
    assert after["total"] == before["total"] + 1


def test_public_page_by_city_and_level(app, ratings):
    from rating import clock
    from rating.services.reporting import totals

    table = totals.city_level_table(date(2025, 7, 1))
    rows = {code: (counts, total, rank) for code, _name, counts, total, rank in table.rows}
    assert rows["320400"] == ({3: 0, 4: 2, 5: 0}, 2, 1) and rows["320100"] == ({3: 1, 4: 0, 5: 1}, 2, 1)
    assert (table.by_level, table.total) == ({3: 2, 4: 2, 5: 1}, 5)
    page = app.test_client().get("/totals")                          # no login
    today = totals.city_level_table(clock.today())
    assert page.status_code == 200 and "常州市" in page.text
    assert f"全省共 {today.total} 家" in page.text
