"""The append-only audit log, chained by hash.

Each entry's `payload` is the canonical JSON of what happened; `hash` is the SHA-256 of
the previous entry's hash and this payload, so changing, removing or reordering any
entry breaks every hash after it. `audit_head` holds the chain's tip: appending locks
that one row, which keeps the chain linear under concurrent writers.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rating.extensions import db
from rating.models.types import UTCDateTime

GENESIS = "0" * 64


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"
    __table_args__ = (
        CheckConstraint("length(hash) = 64 AND length(prev_hash) = 64", name="hash_length"),
        Index("ix_audit_entries_object", "object_type", "object_id"),
        # The log browser's filters, each newest first by seq (keyset on id): no scan of the log.
        Index("ix_audit_entries_actor_seq", "actor_id", "id"),
        Index("ix_audit_entries_action_seq", "action", "id"),
        Index("ix_audit_entries_type_seq", "object_type", "id"),
        Index("ix_audit_entries_at", "at"),
    )

    # The sequence number in the chain (1, 2, …), handed out by audit_head, not by the database.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(db.Model):
    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


class AuditVerified(db.Model):
    """How far the chain was last verified: its seq and that entry's hash. The log browser
    checks only the entries after it (and that this entry still has this hash), so showing
    whether the chain verifies up to the newest entry does not rewalk a million entries."""
    __tablename__ = "audit_verified"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),
                      CheckConstraint("length(hash) = 64", name="hash_length"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime())
