"""One place where an application's change of state is recorded: the history the firm and
reviewers read, the audit chain, and the firm's email (when status or stage moved).

Call it in the transaction that makes the change; all three commit or roll back with it.
(The scoring job writes the same three with prepared statements on its hot path.)
"""
from __future__ import annotations

from rating.extensions import db
from rating.models import StatusChange
from rating.platform import audit, outbox


def record_change(application_id: int, actor_id: int | None, action: str, from_status: str | None,
                  to_status: str, from_stage: str | None, to_stage: str | None, comment: str | None = None,
                  **audit_data) -> None:
    db.session.add(StatusChange(application_id=application_id, actor_id=actor_id, action=action,
                                from_status=from_status, to_status=to_status, from_stage=from_stage,
                                to_stage=to_stage, comment=comment))
    audit.append(f"application.{action}", "application", application_id, actor_id, from_status=from_status,
                 to_status=to_status, from_stage=from_stage, to_stage=to_stage, comment=comment, **audit_data)
    if from_status is not None and (from_status, from_stage) != (to_status, to_stage):
        outbox.queue_status_change(application_id, to_status, to_stage, comment)
