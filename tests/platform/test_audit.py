"""The audit chain: every change appends to it, the database refuses edits, the verifier finds tampering."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from rating.extensions import db
from rating.models import Application, AuditEntry
from tests.support.factories import make_batch, make_staff
from tests.support.flows import decide, scored

pytestmark = pytest.mark.integration


@pytest.fixture()
def history(api, app):
    batch = make_batch("js-2024")
    county = make_staff("reviewer", "320402")
    application_id, _firm = scored(api, batch, 3)
    assert decide(api, api.token(county.email), application_id, "forward", "同意").status_code == 201
    return application_id


def test_changes_are_chained(history, runner):
    actions = db.session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars().all()
    assert actions == ["application.create", "application.submit", "application.scored",
                       "assignment.create", "application.forward"]
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "intact: 5 entries" in result.output


def test_the_database_refuses_edits(history):
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text("UPDATE audit_entries SET action = 'application.reject' WHERE id = 5"))
    db.session.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text("DELETE FROM audit_entries WHERE id = 5"))
    db.session.rollback()


@pytest.mark.parametrize("tamper, broken_at", [
    ("UPDATE audit_entries SET action = 'application.reject' WHERE id = 5", 5),
    ("UPDATE audit_entries SET payload = replace(payload, '同意', '驳回') WHERE id = 5", 5),
    ("DELETE FROM audit_entries WHERE id = 3", 3),
    ("DELETE FROM audit_entries WHERE id = 5", 5),
    ("UPDATE audit_entries SET actor_id = NULL WHERE id = 2", 2),
])
def test_the_verifier_finds_tampering(history, runner, tamper, broken_at):
    # Someone with the owner's rights switches the guard off and edits history.
    db.session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only"))
    db.session.execute(text(tamper))
    db.session.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only"))
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"broken at entry {broken_at}" in result.output


def test_the_head_is_the_last_lock_of_a_transaction(history):
    """Every other row of the transaction is written before the chain's head is locked,
    with the locks its foreign keys take, so a transaction holding the head waits for
    nobody who could be waiting for it."""
    from sqlalchemy import event

    from rating.models import StatusChange
    from rating.platform import audit, outbox

    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement.split("(")[0].split(" SET ")[0].strip())

    application = db.session.get(Application, history)
    db.session.add(StatusChange(application_id=history, actor_id=None, action="note", from_status=application.status,
                                to_status=application.status, from_stage=application.stage,
                                to_stage=application.stage))
    audit.append("application.note", "application", history)
    outbox.queue_status_change(history, application.status, application.stage)
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    writes = [s for s in statements if s.startswith(("INSERT", "UPDATE"))]
    assert writes == ["INSERT INTO email_outbox", "INSERT INTO status_changes", "UPDATE audit_head",
                      "INSERT INTO audit_entries", "UPDATE audit_head"], statements


def test_a_savepoint_that_rolls_back_forgets_only_its_own_entries(app):
    """A use case may try a step in a savepoint (revoking skips a party already blacklisted
    that way): the entries recorded before it are still written, the ones inside it are not,
    and nothing survives an outer rollback."""
    from rating.platform import audit

    def actions() -> list[str]:
        return list(db.session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars())

    audit.append("test.before", "test", 1)
    try:
        with db.session.begin_nested():
            audit.append("test.inside", "test", 2)
            raise ValueError("the step fails")
    except ValueError:
        pass
    with db.session.begin_nested():
        audit.append("test.kept", "test", 3)
    db.session.commit()
    assert actions() == ["test.before", "test.kept"]

    audit.append("test.rolled_back", "test", 4)
    db.session.rollback()
    db.session.commit()
    assert actions() == ["test.before", "test.kept"]


@pytest.mark.parametrize("data", [{}, {"comment": "同意 \"引号\" \\ 与换行\n", "score": Decimal("87.50"), "b": [1, None],
                                   "a": {"z": 1, "y": "乙"}, "when": date(2026, 12, 6)}])
def test_an_entry_is_written_as_canonical_json(data):
    """The payload is built from its parts (the data written once), and reads as canonical()
    of the whole document would: what the verifier and any outside checker expect."""
    from datetime import datetime, timezone

    from rating.platform import audit

    at = datetime(2026, 12, 6, 8, 30, tzinfo=timezone.utc)
    frozen = json.loads(audit.canonical(data))
    built = audit._payload(7, at, 3, "application.note", "application", "42", audit.canonical(data))
    assert built == audit.canonical({"seq": 7, "at": at.isoformat(), "actor_id": 3, "action": "application.note",
                                     "object_type": "application", "object_id": "42", "data": frozen})
    assert audit._payload(1, at, None, "a", "b", "c", "{}") == audit.canonical(
        {"seq": 1, "at": at.isoformat(), "actor_id": None, "action": "a", "object_type": "b", "object_id": "c",
         "data": {}})
