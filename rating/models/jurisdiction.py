"""Administrative divisions: province → city → county-level unit."""
from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from rating.extensions import db
from rating.models.enums import JurisdictionLevel


class Jurisdiction(db.Model):
    __tablename__ = "jurisdictions"
    __table_args__ = (
        CheckConstraint(f"level IN ({JurisdictionLevel.sql_in()})", name="level"),
        CheckConstraint("length(code) = 6", name="code_length"),
        CheckConstraint("(level = 'province') = (parent_code IS NULL)", name="parent"),
    )

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("jurisdictions.code"))
    # Ancestors kept on every row (reference data, loaded once) so that a scope check
    # is one indexed comparison instead of a walk up the tree.
    province_code: Mapped[str] = mapped_column(String(6), index=True)
    city_code: Mapped[str | None] = mapped_column(String(6), index=True)

    def contains(self, other: "Jurisdiction") -> bool:
        """True when `other` is this division or lies inside it."""
        if self.level == JurisdictionLevel.province:
            return other.province_code == self.code
        if self.level == JurisdictionLevel.city:
            return other.city_code == self.code
        return other.code == self.code

    def __repr__(self) -> str:
        return f"<Jurisdiction {self.code} {self.name}>"
