"""Views marked @read_only run without a transaction on PostgreSQL, and cannot write."""
from __future__ import annotations

import pytest
from sqlalchemy import event, func, select, text, update

from rating.extensions import db
from rating.models import Application
from rating.readonly import OPTION, WriteInReadOnlyRequest
from tests.support.factories import make_batch, make_staff
from tests.support.flows import scored
from tests.support.people import log_in

pytestmark = pytest.mark.integration


@pytest.fixture()
def autocommit_seen(app):
    """For each statement sent during the test: whether its connection was in autocommit
    (no BEGIN before it, no ROLLBACK after)."""
    seen: list[tuple[str, bool]] = []

    def record(conn, _cursor, statement, *_rest):
        seen.append((statement.split(None, 1)[0].upper(), conn.connection.dbapi_connection.autocommit))

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def test_the_queues_read_without_a_transaction_and_other_requests_keep_theirs(app, api, autocommit_seen):
    assert db.engine.dialect.name == "postgresql"
    batch = make_batch("js-2024")
    reviewer = make_staff("reviewer", "320402")
    application_id, firm_token = scored(api, batch, 3)
    token = api.token(reviewer.email)
    page = app.test_client()
    log_in(page, reviewer.email, follow_redirects=True)

    autocommit_seen.clear()
    assert [item["application_id"] for item in api.get("/reviews/queue", token=token).get_json()] == [application_id]
    assert autocommit_seen and all(autocommit for _, autocommit in autocommit_seen), autocommit_seen
    autocommit_seen.clear()
    assert f"#{application_id}" in page.get("/reviews/").text
    assert autocommit_seen and all(autocommit for _, autocommit in autocommit_seen), autocommit_seen

    # The pooled connections went back to ordinary transactions: the next request, a
    # read and a decision on the same connections, runs inside one.
    autocommit_seen.clear()
    shown = api.get(f"/applications/{application_id}", token=firm_token).get_json()
    decided = api.post(f"/applications/{application_id}/decisions",
                       {"decision": "forward", "comment": "材料齐全", "version": shown["version"]}, token=token)
    assert decided.status_code == 201, decided.get_json()
    assert autocommit_seen and not any(autocommit for _, autocommit in autocommit_seen), autocommit_seen


def test_a_write_on_a_read_only_connection_is_refused_before_it_is_sent(app, api):
    batch = make_batch("js-2024")
    application_id, _firm = scored(api, batch, 3)
    before = db.session.execute(select(Application.version).where(Application.id == application_id)).scalar_one()
    db.session.rollback()
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT", **{OPTION: True})
        assert conn.execute(text("SELECT 1")).scalar_one() == 1                 # reads go through
        with pytest.raises(WriteInReadOnlyRequest):
            conn.execute(update(Application).where(Application.id == application_id)
                         .values(version=Application.version + 1))
        with pytest.raises(WriteInReadOnlyRequest):
            conn.execute(text("  delete from status_changes"))
    assert db.session.execute(select(Application.version).where(Application.id == application_id)
                              ).scalar_one() == before
    assert db.session.execute(select(func.count()).select_from(text("status_changes"))).scalar_one() > 0


def test_the_dashboard_reads_without_a_transaction_and_fills_a_day_in_one_of_its_own(app, autocommit_seen):
    """The officials' dashboard is a read-only request; the first request of a day stores
    the day's counts all the same, in a session and transaction of its own (committed)."""
    from rating import clock
    from rating.models import CountedDay

    official = make_staff("official", "320400")
    db.session.commit()
    assert db.session.get(CountedDay, clock.today()) is None
    db.session.rollback()
    page = app.test_client()
    log_in(page, official.email, follow_redirects=True)

    autocommit_seen.clear()
    assert page.get("/dashboard").status_code == 200
    in_request = {statement for statement, autocommit in autocommit_seen if autocommit}
    in_fill = [statement for statement, autocommit in autocommit_seen if not autocommit]
    assert in_request == {"SELECT"}, autocommit_seen
    assert "INSERT" in in_fill, autocommit_seen
    assert db.session.get(CountedDay, clock.today()) is not None           # committed
    db.session.rollback()

    autocommit_seen.clear()
    assert page.get("/dashboard").status_code == 200
    assert autocommit_seen and all(autocommit for _, autocommit in autocommit_seen), autocommit_seen
    # Filtered, and on a day that is not kept (computed, not stored): reads only as well.
    autocommit_seen.clear()
    assert page.get("/dashboard?level=3&on=2024-06-01").status_code == 200
    assert autocommit_seen and all(autocommit for _, autocommit in autocommit_seen), autocommit_seen


@pytest.mark.parametrize("path", ["/api/v1/totals?group_by=city", "/api/v1/totals?group_by=level&city=320400",
                                  "/api/v1/totals?group_by=year&level=3",
                                  "/api/v1/totals?group_by=industry&on=2024-06-01&year=2024",
                                  "/totals"])
def test_totals_read_without_a_transaction(app, autocommit_seen, path):
    db.session.rollback()
    client = app.test_client()
    client.get(path)                                  # the first computes; the second may be kept
    autocommit_seen.clear()
    assert client.get("/api/v1/totals?group_by=district").status_code == 200
    assert client.get(path).status_code == 200
    assert autocommit_seen and all(autocommit for _, autocommit in autocommit_seen), autocommit_seen
