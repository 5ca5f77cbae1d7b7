"""Review work: score adjustments, assignments, declared conflicts, approval quotas."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rating.extensions import db
from rating.models.enums import Stage
from rating.models.types import JSONDoc, UTCDateTime, utcnow


class ScoreAdjustment(db.Model):
    __tablename__ = "score_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(10))
    indicator_code: Mapped[str] = mapped_column(String(64))
    points: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReviewAssignment(db.Model):
    """Who works on an application at a stage, and by when. One open assignment at a time."""

    __tablename__ = "review_assignments"
    __table_args__ = (
        CheckConstraint(f"stage IN ({Stage.sql_in()})", name="stage"),
        CheckConstraint("(closed_at IS NULL) = (closed_reason IS NULL)", name="closed"),
        CheckConstraint(
            "closed_reason IS NULL OR closed_reason IN ('decided', 'reassigned', 'left_stage')",
            name="closed_reason",
        ),
        Index("uq_review_assignments_open", "application_id", unique=True,
              postgresql_where=text("closed_at IS NULL"), sqlite_where=text("closed_at IS NULL")),
        Index("ix_review_assignments_reviewer_open", "reviewer_id", "closed_at"),
        # A reviewer's latest assignment (routing's "longest idle"), one index probe
        # however many closed assignments the years have piled up.
        Index("ix_review_assignments_reviewer_assigned", "reviewer_id", "assigned_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(10))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the router
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_reason: Mapped[str | None] = mapped_column(String(12))

    application: Mapped["Application"] = relationship()
    reviewer: Mapped["User"] = relationship(foreign_keys=[reviewer_id])


class ReviewerConflict(db.Model):
    """A conflict of interest a reviewer declared: a firm, a group of firms, or a cloud provider."""

    __tablename__ = "reviewer_conflicts"
    __table_args__ = (
        CheckConstraint(
            "(enterprise_id IS NOT NULL AND group_name IS NULL AND provider_name IS NULL)"
            " OR (enterprise_id IS NULL AND group_name IS NOT NULL AND provider_name IS NULL)"
            " OR (enterprise_id IS NULL AND group_name IS NULL AND provider_name IS NOT NULL)",
            name="one_party",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    group_name: Mapped[str | None] = mapped_column(String(200))
    provider_name: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BatchQuota(db.Model):
    """A cap on approvals per county and level in a batch: a count, or a percentage of a base figure."""

    __tablename__ = "batch_quotas"
    __table_args__ = (
        UniqueConstraint("batch_id", "district_code", "level", name="uq_batch_quotas_batch_district_level"),
        CheckConstraint("(max_count IS NOT NULL) <> (percent IS NOT NULL)", name="one_kind"),
        CheckConstraint("percent IS NULL OR (base_count IS NOT NULL AND percent > 0 AND percent <= 100)",
                        name="percent_base"),
        CheckConstraint("max_count IS NULL OR max_count >= 0", name="max_count"),
        CheckConstraint("base_count IS NULL OR base_count >= 0", name="base_count"),
        CheckConstraint("base_source IS NULL OR (base_source IN ('typed', 'firms') AND percent IS NOT NULL)",
                        name="base_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    district_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"))
    level: Mapped[int] = mapped_column(Integer)
    max_count: Mapped[int | None] = mapped_column(Integer)
    percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    base_count: Mapped[int | None] = mapped_column(Integer)
    # Where a percentage's base came from: typed by the official, or the county's registered firms.
    base_source: Mapped[str | None] = mapped_column(String(10))
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def cap(self) -> int:
        if self.max_count is not None:
            return self.max_count
        return int(Decimal(self.base_count) * self.percent / 100)


class ExpertAssignment(db.Model):
    """An expert asked to score an application's indicators at the city or province stage."""

    __tablename__ = "expert_assignments"
    __table_args__ = (
        UniqueConstraint("application_id", "round", "stage", "expert_id",
                         name="uq_expert_assignments_application_round_stage_expert"),
        CheckConstraint("stage IN ('city', 'province')", name="stage"),
        CheckConstraint("(submitted_at IS NULL) = (scores IS NULL)", name="submitted"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(10))
    expert_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    scores: Mapped[dict | None] = mapped_column(JSONDoc)   # indicator code → points (as strings)
    comment: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    expert: Mapped["User"] = relationship(foreign_keys=[expert_id])
    application: Mapped["Application"] = relationship()

    @property
    def due_at(self) -> datetime:
        return self.assigned_at + timedelta(days=self.application.batch.review_days(self.stage))

    @property
    def reviewer_id(self) -> int:
        return self.expert_id
