"""Firms and the blacklist."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rating.extensions import db
from rating.models.enums import INDUSTRY_SECTIONS, ClaimStatus, Scale
from rating.models.types import UTCDateTime, utcnow

_SECTIONS = ", ".join(f"'{s}'" for s in INDUSTRY_SECTIONS)


class Enterprise(db.Model):
    __tablename__ = "enterprises"
    __table_args__ = (
        CheckConstraint("length(uscc) = 18", name="uscc_length"),
        CheckConstraint(f"industry IN ({_SECTIONS})", name="industry"),
        CheckConstraint(f"scale IN ({Scale.sql_in()})", name="scale"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"), index=True)
    # A firm created from an imported list has only its name, code and district until it
    # registers (registration fills in the rest: registration.register_enterprise).
    industry: Mapped[str | None] = mapped_column(String(1))
    scale: Mapped[str | None] = mapped_column(String(8))
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(254))
    # The group (集团) the firm belongs to, if any: reviewers declare conflicts by group.
    group_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    district: Mapped["Jurisdiction"] = relationship()
    users: Mapped[list["User"]] = relationship(back_populates="enterprise")

    def __repr__(self) -> str:
        return f"<Enterprise {self.uscc} {self.name}>"


class BlacklistEntry(db.Model):
    """A firm or a cloud service provider barred from the certification."""

    __tablename__ = "blacklist_entries"
    __table_args__ = (
        CheckConstraint(
            "(enterprise_id IS NOT NULL) <> (provider_name IS NOT NULL)", name="one_party"
        ),
        Index("ix_blacklist_entries_provider_name", "provider_name"),
        # One active entry per party; lifting an entry keeps it as history.
        Index("uq_blacklist_entries_active_enterprise", "enterprise_id", unique=True,
              postgresql_where=text("lifted_at IS NULL AND enterprise_id IS NOT NULL"),
              sqlite_where=text("lifted_at IS NULL AND enterprise_id IS NOT NULL")),
        Index("uq_blacklist_entries_active_provider", "provider_name", unique=True,
              postgresql_where=text("lifted_at IS NULL AND provider_name IS NOT NULL"),
              sqlite_where=text("lifted_at IS NULL AND provider_name IS NOT NULL")),
        CheckConstraint("(lifted_at IS NULL) = (lifted_by_id IS NULL)", name="lifted"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    provider_name: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lift_reason: Mapped[str | None] = mapped_column(Text)

    enterprise: Mapped["Enterprise | None"] = relationship()


class Provider(db.Model):
    """A cloud service provider on the officials' list, known by one name and its aliases
    (阿里云 and 阿里云计算有限公司 are one provider). A name or alias names one provider only."""

    __tablename__ = "providers"
    __table_args__ = (CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    aliases: Mapped[list["ProviderAlias"]] = relationship(
        back_populates="provider", cascade="all, delete-orphan", order_by="ProviderAlias.alias")


class ProviderAlias(db.Model):
    __tablename__ = "provider_aliases"
    __table_args__ = (CheckConstraint("length(trim(alias)) > 0", name="alias_not_blank"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(200), unique=True)

    provider: Mapped[Provider] = relationship(back_populates="aliases")


class EnterpriseClaim(db.Model):
    """Someone registering a credit code known only from an imported ratings list: the
    account exists at once, but it sees none of the firm's ratings and cannot change the
    firm's record until an official of the firm's county approves the claim. The record
    the claimant typed waits here and is applied on approval."""

    __tablename__ = "enterprise_claims"
    __table_args__ = (
        CheckConstraint(f"status IN ({ClaimStatus.sql_in()})", name="status"),
        CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name="decided"),
        CheckConstraint("(decided_at IS NULL) = (decided_by_id IS NULL)", name="decided_by"),
        # A firm is claimed once: at most one approved claim per firm.
        Index("uq_enterprise_claims_approved", "enterprise_id", unique=True,
              postgresql_where=text("status = 'approved'"), sqlite_where=text("status = 'approved'")),
        Index("ix_enterprise_claims_pending", "enterprise_id",
              postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    # One claim per account: the account was created by it.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=ClaimStatus.pending)
    # The firm's record as the claimant typed it.
    name: Mapped[str] = mapped_column(String(200))
    district_code: Mapped[str] = mapped_column(ForeignKey("jurisdictions.code"))
    industry: Mapped[str] = mapped_column(String(1))
    scale: Mapped[str] = mapped_column(String(8))
    contact_name: Mapped[str] = mapped_column(String(50))
    contact_phone: Mapped[str] = mapped_column(String(30))
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(Text)

    enterprise: Mapped["Enterprise"] = relationship()
    user: Mapped["User"] = relationship(foreign_keys=[user_id])
