"""Guide editions (the rubric) and batches that use them."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rating.extensions import db
from rating.models.types import JSONDoc, UTCDateTime, utcnow


class GuideEdition(db.Model):
    __tablename__ = "guide_editions"
    __table_args__ = (
        CheckConstraint("source_type IS NULL OR source_type IN ('text/yaml', 'application/json')",
                        name="source_type"),
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict] = mapped_column(JSONDoc)
    sha256: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The document as it was loaded (a shipped file or an upload) and its media type.
    source: Mapped[str | None] = mapped_column(Text)
    source_type: Mapped[str | None] = mapped_column(String(40))


class Batch(db.Model):
    __tablename__ = "batches"
    __table_args__ = (
        CheckConstraint("closes_at > opens_at", name="window"),
        CheckConstraint("investment_to >= investment_from", name="investment_window"),
        # Investment counts only up to the usage cut-off (rating.rules.batches).
        CheckConstraint("investment_to <= usage_cutoff", name="investment_before_cutoff"),
        UniqueConstraint("province_code", "year", "number", name="uq_batches_province_year_number"),
        CheckConstraint("county_review_days > 0 AND city_review_days > 0 AND province_review_days > 0",
                        name="review_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    province_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"))
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)  # 1 = 首批
    edition_code: Mapped[str] = mapped_column(ForeignKey("guide_editions.code"), index=True)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    usage_cutoff: Mapped[date] = mapped_column(Date)
    investment_from: Mapped[date] = mapped_column(Date)
    investment_to: Mapped[date] = mapped_column(Date)
    # Calendar days each review stage has, from the moment an application reaches it.
    county_review_days: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    city_review_days: Mapped[int] = mapped_column(Integer, default=20, server_default="20")
    province_review_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    # The star levels firms may choose in this batch; None: every level of the edition.
    levels: Mapped[list | None] = mapped_column(JSONDoc, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    edition: Mapped["GuideEdition"] = relationship()

    def review_days(self, stage: str) -> int:
        return getattr(self, f"{stage}_review_days")

    def offers(self, level: int) -> bool:
        """Whether firms may choose `level` in this batch (the edition must have it too)."""
        return self.levels is None or level in self.levels

    def is_open_at(self, moment: datetime, city_closes_at: datetime | None = None) -> bool:
        """Open at `moment`; `city_closes_at` is the firm's city's own deadline, if it set one."""
        closes = min(self.closes_at, city_closes_at) if city_closes_at else self.closes_at
        return self.opens_at <= moment < closes


class BatchCityDeadline(db.Model):
    """A city's own filing deadline in a batch, inside the province's window: that city's
    firms may submit until it."""
    __tablename__ = "batch_city_deadlines"

    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    city_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"), primary_key=True)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
