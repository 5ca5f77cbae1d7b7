"""Public notices (公示) of approved applications, and the objections raised against them."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rating.extensions import db
from rating.models.enums import EntryOutcome, NoticeStatus, ObjectionStatus
from rating.models.types import UTCDateTime, utcnow

# Limits on what the public may send (also checked by the form, with messages).
OBJECTION_NAME_MAX = 50
OBJECTION_CONTACT_MAX = 100
OBJECTION_REASON_MAX = 2000


class PublicityNotice(db.Model):
    __tablename__ = "publicity_notices"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="period"),
        CheckConstraint(f"status IN ({NoticeStatus.sql_in()})", name="status"),
        CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name="closed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    jurisdiction_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), default=NoticeStatus.open)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    jurisdiction: Mapped["Jurisdiction"] = relationship()
    entries: Mapped[list["PublicityEntry"]] = relationship(
        back_populates="notice", order_by="PublicityEntry.id", cascade="all, delete-orphan"
    )


class PublicityEntry(db.Model):
    __tablename__ = "publicity_entries"
    __table_args__ = (
        UniqueConstraint("notice_id", "application_id", name="uq_publicity_entries_notice_application"),
        CheckConstraint(f"outcome IN ({EntryOutcome.sql_in()})", name="outcome"),
        # An application is on at most one notice that is still deciding its fate.
        Index("uq_publicity_entries_live", "application_id", unique=True,
              postgresql_where=text("outcome IN ('listed', 'held')"),
              sqlite_where=text("outcome IN ('listed', 'held')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("publicity_notices.id", ondelete="CASCADE"))
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    level: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(8), default=EntryOutcome.listed)

    notice: Mapped["PublicityNotice"] = relationship(back_populates="entries")
    application: Mapped["Application"] = relationship()
    objections: Mapped[list["Objection"]] = relationship(back_populates="entry", order_by="Objection.id")


class Objection(db.Model):
    __tablename__ = "objections"
    __table_args__ = (
        CheckConstraint(f"status IN ({ObjectionStatus.sql_in()})", name="status"),
        CheckConstraint("(status = 'open') = (handled_at IS NULL)", name="handled"),
        CheckConstraint(f"length(reason) BETWEEN 1 AND {OBJECTION_REASON_MAX}", name="reason_length"),
        CheckConstraint(f"length(name) BETWEEN 1 AND {OBJECTION_NAME_MAX}", name="name_length"),
        CheckConstraint(f"length(contact) BETWEEN 1 AND {OBJECTION_CONTACT_MAX}", name="contact_length"),
        Index("ix_objections_entry_status", "entry_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("publicity_entries.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(OBJECTION_NAME_MAX))
    contact: Mapped[str] = mapped_column(String(OBJECTION_CONTACT_MAX))
    reason: Mapped[str] = mapped_column(Text)
    remote_addr: Mapped[str | None] = mapped_column(String(45))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default=ObjectionStatus.open)
    resolution: Mapped[str | None] = mapped_column(Text)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    entry: Mapped["PublicityEntry"] = relationship(back_populates="objections")
