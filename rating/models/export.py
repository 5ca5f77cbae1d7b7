"""Exports of the ratings list too long to build inside a web request."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rating.extensions import db
from rating.models.enums import ExportState
from rating.models.types import UTCDateTime, utcnow


class ExportJob(db.Model):
    """One list asked for by one official, built by a worker into STORAGE_DIR/exports.

    `filters` are the list's filters as JSON, applied in the official's scope when the
    worker builds the file; `file_name` is set only once the file is complete.
    """

    __tablename__ = "export_jobs"
    __table_args__ = (
        CheckConstraint(f"state IN ({ExportState.sql_in()})", name="state"),
        CheckConstraint("format IN ('csv', 'xlsx', 'pdf')", name="format"),
        CheckConstraint("done_rows >= 0 AND (total_rows IS NULL OR done_rows <= total_rows)", name="progress"),
        CheckConstraint("(state = 'done') = (file_name IS NOT NULL)", name="done_has_file"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    format: Mapped[str] = mapped_column(String(4))
    filters: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(8), default=ExportState.queued)
    total_rows: Mapped[int | None] = mapped_column(Integer)
    done_rows: Mapped[int] = mapped_column(Integer, default=0)
    file_name: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
