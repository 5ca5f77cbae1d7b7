"""GET /healthz: each part of the system, 503 when one is down."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app
from sqlalchemy import text

from rating.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def database_ok() -> bool:
    try:
        # The probe itself, not a query of any area: it stays here rather than in a service.
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001  (any failure means "down")
        log.warning("health: database unreachable", exc_info=True)
        db.session.rollback()
        return False


def broker_ok() -> bool:
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # noqa: BLE001
        log.warning("health: broker unreachable", exc_info=True)
        return False


@bp.get("/healthz")
def healthz():
    parts = {"database": "ok" if database_ok() else "down", "broker": "ok" if broker_ok() else "down"}
    healthy = all(v == "ok" for v in parts.values())
    return {"status": "ok" if healthy else "down", **parts}, 200 if healthy else 503
