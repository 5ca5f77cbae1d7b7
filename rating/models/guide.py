"""Guide editions (the rubric) and batches that use them."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rating.extensions import db
from rating.models.types import JSONDoc, UTCDateTime, utcnow


class GuideEdition(db.Model):
    __tablename__ = "guide_editions"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict] = mapped_column(JSONDoc)
    sha256: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Batch(db.Model):
    __tablename__ = "batches"
    __table_args__ = (
        CheckConstraint("closes_at > opens_at", name="window"),
        CheckConstraint("investment_to >= investment_from", name="investment_window"),
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    edition: Mapped["GuideEdition"] = relationship()

    def review_days(self, stage: str) -> int:
        return getattr(self, f"{stage}_review_days")

    def is_open_at(self, moment: datetime) -> bool:
        return self.opens_at <= moment < self.closes_at
