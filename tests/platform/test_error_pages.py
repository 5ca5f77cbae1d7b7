"""How an error reaches people when it gets past a use case: a clash that shows only at
the edge's commit is a conflict (409, the user's work kept and the session usable), never a
server error."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from rating.extensions import db
from rating.models import Enterprise

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("error", [IntegrityError("INSERT INTO ratings", {}, Exception("duplicate key value")),
                                   StaleDataError("UPDATE statement on table 'applications' expected 1 row")])
def test_a_clash_at_commit_is_a_conflict_in_json_and_in_pages(app, error):
    with app.test_request_context("/api/v1/applications", headers={"Accept": "application/json"}):
        response = app.make_response(app.handle_user_exception(error))
        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "conflict"
        assert "请刷新" in response.get_json()["error"]["message"]
        db.session.execute(select(Enterprise.id).limit(1)).all()      # the session was rolled back, usable
    with app.test_request_context("/applications/1/edit", headers={"Accept": "text/html"}):
        response = app.make_response(app.handle_user_exception(error))
        assert response.status_code == 409 and "请刷新页面后重试" in response.get_data(as_text=True)
