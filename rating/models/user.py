"""Accounts and API tokens."""
from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rating.extensions import db
from rating.models.enums import Role
from rating.models.types import UTCDateTime, utcnow


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({Role.sql_in()})", name="role"),
        # An enterprise user belongs to exactly one firm and to no jurisdiction; staff
        # are scoped to a division and belong to no firm.
        CheckConstraint(
            "(role = 'enterprise' AND enterprise_id IS NOT NULL AND jurisdiction_code IS NULL)"
            " OR (role <> 'enterprise' AND enterprise_id IS NULL"
            " AND (jurisdiction_code IS NOT NULL OR role = 'admin'))",
            name="scope",
        ),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
        CheckConstraint("session_version >= 0", name="session_version"),
        # A firm's administrator invites its colleagues (services/accounts/firm_users).
        CheckConstraint("NOT is_firm_admin OR role = 'enterprise'", name="firm_admin"),
        CheckConstraint("locale IN ('zh_Hans_CN', 'en')", name="locale"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(12))
    jurisdiction_code: Mapped[str | None] = mapped_column(ForeignKey("jurisdictions.code"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(30))
    is_firm_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Part of every browser session's identity (get_id): raising it ends every session of
    # the account at once (logout, password change or reset, deactivation, "sign out
    # everywhere"), although the session itself lives in a signed cookie.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    jurisdiction: Mapped["Jurisdiction | None"] = relationship()
    enterprise: Mapped["Enterprise | None"] = relationship(back_populates="users")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login: what the session cookie names, "id:version"
        return f"{self.id}:{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Only a hash is stored: a leaked database does not leak usable tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped["User"] = relationship()
