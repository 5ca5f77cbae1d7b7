"""The email outbox: messages are written in the transaction of the change they report."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rating.extensions import db
from rating.models.enums import OutboxStatus
from rating.models.types import UTCDateTime, utcnow

# Not a NULL: one range of the (status, next_attempt_at) index holds everything due, and
# the planner does not mistake the sent messages for waiting ones.
NOT_YET_TRIED = datetime(2000, 1, 1, tzinfo=timezone.utc)


class OutboxEmail(db.Model):
    __tablename__ = "email_outbox"
    __table_args__ = (
        CheckConstraint(f"status IN ({OutboxStatus.sql_in()})", name="status"),
        CheckConstraint("(status = 'sent') = (sent_at IS NOT NULL)", name="sent"),
        CheckConstraint("attempts >= 0", name="attempts"),
        # What a flush claims: pending and due, soonest first.
        Index("ix_email_outbox_status_next_attempt", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"),
                                                       index=True)
    kind: Mapped[str] = mapped_column(String(40))  # an EmailKind (its template in templates/email/)
    to_address: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default=OutboxStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The earliest a flush may try it: after a failed try, a delay that doubles with each
    # (MAIL_RETRY_SECONDS … MAIL_RETRY_MAX_SECONDS); before the first, NOT_YET_TRIED, due
    # at once whatever the clock of the host that wrote it says against the worker's.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=NOT_YET_TRIED)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
