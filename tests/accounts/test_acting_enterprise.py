"""Which firm a firm's user acts for is decided once a request, however many scope checks ask."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select

from rating import permissions
from rating.extensions import db
from rating.models import User

pytestmark = pytest.mark.integration


def test_the_acting_firm_is_looked_up_once_a_request(app, api):
    firm, _token = api.register_firm()
    user = db.session.execute(select(User).where(User.enterprise_id == firm["id"])).scalar_one()
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with app.test_request_context():
            first = [permissions.acting_enterprise_id(user) for _ in range(3)]
        with app.test_request_context():
            again = permissions.acting_enterprise_id(user)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert first == [firm["id"]] * 3 and again == firm["id"]
    assert sum("enterprise_claims" in s for s in statements) == 2, statements   # once per request
