"""Ratings granted to firms (by this system or imported from earlier lists)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rating.extensions import db
from rating.models.enums import RatingStatus
from rating.models.types import UTCDateTime, utcnow


class Rating(db.Model):
    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint(f"status IN ({RatingStatus.sql_in()})", name="status"),
        CheckConstraint("level > 0", name="level"),
        CheckConstraint("valid_until >= granted_on", name="validity"),
        # Revoked and superseded ratings say since when.
        CheckConstraint("(status IN ('revoked', 'superseded')) = (status_changed_on IS NOT NULL)",
                        name="status_changed"),
        UniqueConstraint("enterprise_id", "level", "year", name="uq_ratings_enterprise_level_year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), unique=True)
    certificate_no: Mapped[str | None] = mapped_column(String(40), unique=True)
    granted_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default=RatingStatus.valid)
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    enterprise = relationship("Enterprise")
    batch = relationship("Batch")

    def status_on(self, day: date) -> str:
        """The status as the public sees it on `day`: a valid rating past its end is expired."""
        if self.status == RatingStatus.valid and day > self.valid_until:
            return RatingStatus.expired
        return self.status


class CertificateSerial(db.Model):
    """The last certificate serial handed out per province and year (gap-free: it moves in
    the transaction that grants the rating, so a rolled-back grant gives its number back)."""

    __tablename__ = "certificate_serials"
    __table_args__ = (CheckConstraint("last >= 0", name="last"),)

    province_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
