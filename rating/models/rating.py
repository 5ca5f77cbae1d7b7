"""Ratings granted to firms (by this system or imported from earlier lists)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint, event, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rating.extensions import db
from rating.models.enterprise import Enterprise
from rating.models.enums import CertificateState, Disbursement, RatingStatus
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
        CheckConstraint(f"disbursement IN ({Disbursement.sql_in()})", name="disbursement"),
        CheckConstraint("reward_yuan IS NULL OR reward_yuan >= 0", name="reward"),
        # Paid rewards say when; nothing else has a payment date.
        CheckConstraint("(disbursement = 'paid') = (disbursed_on IS NOT NULL)", name="disbursed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    # The firm's name and county as certified: what /verify and the certificate show,
    # whatever the firm's record says later (a rename, a move, a claimed import).
    certified_name: Mapped[str] = mapped_column(String(200))
    certified_district_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"))
    level: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    # The batch as an imported list names it (第一批…), for ratings granted before this system.
    batch_label: Mapped[str | None] = mapped_column(String(60))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), unique=True)
    certificate_no: Mapped[str | None] = mapped_column(String(40), unique=True)
    granted_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default=RatingStatus.valid)
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_on: Mapped[date | None] = mapped_column(Date)
    # The reward due by level when it was granted (later changes of the amounts do not
    # rewrite what was promised), and where its payment stands.
    reward_yuan: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    disbursement: Mapped[str] = mapped_column(String(10), default=Disbursement.due, server_default="due")
    disbursed_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    enterprise: Mapped["Enterprise"] = relationship()
    batch: Mapped["Batch | None"] = relationship()
    certificate: Mapped["Certificate | None"] = relationship(back_populates="rating", uselist=False)

    def status_on(self, day: date) -> str:
        """The status as the public sees it on `day`: a valid rating past its end is expired."""
        if self.status == RatingStatus.valid and day > self.valid_until:
            return RatingStatus.expired
        return self.status



@event.listens_for(Rating, "before_insert")
def _certify_firm_as_it_is(_mapper, connection, rating: Rating) -> None:
    """A rating written without the certified name and county takes the firm's record as
    it is at that moment (grants and imports set them themselves)."""
    if rating.certified_name is not None and rating.certified_district_code is not None:
        return
    name, district = connection.execute(
        select(Enterprise.name, Enterprise.district_code).where(Enterprise.id == rating.enterprise_id)).one()
    if rating.certified_name is None:
        rating.certified_name = name
    if rating.certified_district_code is None:
        rating.certified_district_code = district

class CertificateSerial(db.Model):
    """The last certificate serial handed out per province and year (gap-free: it moves in
    the transaction that grants the rating, so a rolled-back grant gives its number back)."""

    __tablename__ = "certificate_serials"
    __table_args__ = (CheckConstraint("last >= 0", name="last"),)

    province_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Certificate(db.Model):
    """The PDF of a rating: one row and one file per rating, rendered by a worker.

    `requested_generation` moves when a (re)render is asked for, `rendered_generation`
    when a worker has stored a complete file for it; the file of the last completed
    generation stays downloadable while a newer one renders.
    """

    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint(f"state IN ({CertificateState.sql_in()})", name="state"),
        CheckConstraint("state <> 'ready' OR (sha256 IS NOT NULL AND size IS NOT NULL)", name="ready_has_file"),
        CheckConstraint("(sha256 IS NULL) = (size IS NULL)", name="file_fields"),
        CheckConstraint("rendered_generation >= 0 AND rendered_generation <= requested_generation",
                        name="generations"),
    )

    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default=CertificateState.pending)
    requested_generation: Mapped[int] = mapped_column(Integer, default=1)
    rendered_generation: Mapped[int] = mapped_column(Integer, default=0)
    # Last asked for: by an official, or again by the sweeper that published a lost job.
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(Integer)
    signature: Mapped[str | None] = mapped_column(String(100))
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    rating: Mapped[Rating] = relationship(back_populates="certificate")


class DistrictLevelCount(db.Model):
    """Materialised for the dashboards: on `day`, how many firms of a district hold `level`
    as their highest valid rating. Rows of a day exist for every district and level counted
    together (a day is complete or absent); a grant or revocation recomputes its district's
    rows for every stored day in its own transaction, an import drops them all."""

    __tablename__ = "district_level_counts"
    __table_args__ = (CheckConstraint("firms > 0", name="firms"), CheckConstraint("level > 0", name="level"))

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    firms: Mapped[int] = mapped_column(Integer)


class CountedDay(db.Model):
    """A day whose DistrictLevelCount rows are stored, and when they were computed."""

    __tablename__ = "counted_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DistrictGrantCount(db.Model):
    """Materialised for the dashboards' trend: how many ratings of `level` for `year` the
    firms of a district hold, whatever their status now. All districts' rows are stored
    together or not at all (CountedGrants says which); a grant, a revocation or a firm
    moving recomputes its district's rows in its own transaction, an import drops them."""

    __tablename__ = "district_grant_counts"
    __table_args__ = (CheckConstraint("ratings > 0", name="ratings"), CheckConstraint("level > 0", name="level"))

    district_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    ratings: Mapped[int] = mapped_column(Integer)


class CountedGrants(db.Model):
    """Present (one row, id 1) while the DistrictGrantCount rows are stored; when they were computed."""

    __tablename__ = "counted_grants"
    __table_args__ = (CheckConstraint("id = 1", name="single"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
