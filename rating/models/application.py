"""An application for a star level, with its declared services, evidence, scores and history."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rating.extensions import db
from rating.models.enums import EDITABLE, OPEN, ApplicationStatus, Deployment, ServiceCategory, Stage
from rating.models.types import JSONDoc, UTCDateTime, utcnow

_STAGED = "'in_review', 'returned'"


class Application(db.Model):
    __tablename__ = "applications"
    __table_args__ = (
        CheckConstraint(f"status IN ({ApplicationStatus.sql_in()})", name="status"),
        CheckConstraint(f"stage IS NULL OR stage IN ({Stage.sql_in()})", name="stage"),
        CheckConstraint(
            f"resume_stage IS NULL OR resume_stage IN ({Stage.sql_in()})", name="resume_stage"
        ),
        # A stage exactly while someone works on it (in review) or waits for the firm
        # to answer it (returned: resubmission goes back to that stage).
        CheckConstraint(f"(status IN ({_STAGED})) = (stage IS NOT NULL)", name="stage_status"),
        CheckConstraint("target_level > 0", name="target_level"),
        CheckConstraint("submission_round >= 0", name="submission_round"),
        CheckConstraint("status IN ('draft', 'withdrawn') OR submission_round > 0", name="submitted_round"),
        # One application per firm per batch; a withdrawn one frees the place.
        Index(
            "uq_applications_enterprise_batch_active",
            "enterprise_id",
            "batch_id",
            unique=True,
            postgresql_where=text("status <> 'withdrawn'"),
            sqlite_where=text("status <> 'withdrawn'"),
        ),
        Index("ix_applications_status_stage", "status", "stage"),
        # What waits for a score, oldest first (scoring jobs take batches of it).
        Index("ix_applications_submitted", "id", postgresql_where=text("status = 'submitted'"),
              sqlite_where=text("status = 'submitted'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    target_level: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=ApplicationStatus.draft)
    stage: Mapped[str | None] = mapped_column(String(10))
    answers: Mapped[dict] = mapped_column(JSONDoc, default=dict)
    submission_round: Mapped[int] = mapped_column(Integer, default=0)
    # The stage that returned the application: its resubmission goes back there.
    resume_stage: Mapped[str | None] = mapped_column(String(10))
    # When scoring was last asked for; the sweeper re-publishes stale requests.
    score_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    enterprise: Mapped["Enterprise"] = relationship()
    batch: Mapped["Batch"] = relationship()
    services: Mapped[list["CloudService"]] = relationship(
        back_populates="application",
        order_by="CloudService.position",
        cascade="all, delete-orphan",
    )
    evidence: Mapped[list["Evidence"]] = relationship(
        back_populates="application", order_by="Evidence.id", cascade="all, delete-orphan"
    )
    history: Mapped[list["StatusChange"]] = relationship(
        back_populates="application", order_by="StatusChange.id", cascade="all, delete-orphan"
    )
    scores: Mapped[list["ApplicationScore"]] = relationship(
        back_populates="application", order_by="ApplicationScore.round", cascade="all, delete-orphan"
    )

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def current_score(self) -> "ApplicationScore | None":
        for s in self.scores:
            if s.round == self.submission_round:
                return s
        return None


class CloudService(db.Model):
    __tablename__ = "cloud_services"
    __table_args__ = (
        CheckConstraint(f"category IN ({ServiceCategory.sql_in()})", name="category"),
        CheckConstraint(f"deployment IN ({Deployment.sql_in()})", name="deployment"),
        CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    provider: Mapped[str] = mapped_column(String(200))
    service_name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(16))
    deployment: Mapped[str] = mapped_column(String(8))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)

    application: Mapped["Application"] = relationship(back_populates="services")
    # Loaded with the services that hold them, in one statement (not one per service).
    payments: Mapped[list["Payment"]] = relationship(
        back_populates="service", order_by="Payment.id", cascade="all, delete-orphan", lazy="selectin"
    )


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("cloud_services.id", ondelete="CASCADE"), index=True
    )
    paid_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))

    service: Mapped["CloudService"] = relationship(back_populates="payments")


class Evidence(db.Model):
    """An uploaded file. Content lives in storage under its SHA-256; the name is metadata."""

    __tablename__ = "evidence"
    __table_args__ = (
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("length(sha256) = 64", name="sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    indicator_code: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    application: Mapped["Application"] = relationship(back_populates="evidence")


class ApplicationScore(db.Model):
    """The machine score of one submission round; the unique key makes scoring exactly-once."""

    __tablename__ = "application_scores"
    __table_args__ = (
        UniqueConstraint("application_id", "round", name="uq_application_scores_application_round"),
        CheckConstraint("total >= 0 AND total <= max", name="total_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    edition_code: Mapped[str] = mapped_column(ForeignKey("guide_editions.code"))
    edition_sha256: Mapped[str] = mapped_column(String(64))
    total: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    max: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    passed: Mapped[bool] = mapped_column(Boolean)
    investment_yuan: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    usage_months: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict] = mapped_column(JSONDoc)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    application: Mapped["Application"] = relationship(back_populates="scores")


class StatusChange(db.Model):
    """Append-only history: who, when, from, to, why."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    from_stage: Mapped[str | None] = mapped_column(String(10))
    to_stage: Mapped[str | None] = mapped_column(String(10))
    comment: Mapped[str | None] = mapped_column(Text)

    application: Mapped["Application"] = relationship(back_populates="history")
    actor: Mapped["User | None"] = relationship()


class SubmissionSnapshot(db.Model):
    """What the firm submitted in one round: answers, services and evidence, frozen.

    Reviewers compare a resubmission with the round they returned; the live rows keep
    changing while the firm edits, these do not.
    """

    __tablename__ = "submission_snapshots"
    __table_args__ = (
        UniqueConstraint("application_id", "round", name="uq_submission_snapshots_application_round"),
        CheckConstraint("round > 0", name="round"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict] = mapped_column(JSONDoc)
    services: Mapped[list] = mapped_column(JSONDoc)
    evidence: Mapped[list] = mapped_column(JSONDoc)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
