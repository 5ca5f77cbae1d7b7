"""Firms, staff and complete drafts seeded in bulk: the fault scenarios are about what
happens after filing, so they start from firms that are ready to submit."""
from __future__ import annotations

import io
import itertools
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from rating.extensions import db
from rating.models import Application, CloudService, Enterprise, Evidence, Payment, User
from rating.rules import answers as codec
from rating.platform import storage
from rating.services.accounts.signin import issue_token
from rating.services.reference import get_edition
from tests.support.factories import PDF_BYTES, good_application, make_staff, password_hash

CHANGZHOU_COUNTIES = ("320402", "320404", "320411", "320412", "320413", "320481")
_SERIALS = itertools.count(int(time.time()) % 100_000 * 10)


@dataclass(frozen=True)
class Firm:
    enterprise_id: int
    district: str
    token: str
    application_id: int | None


def typed_answer(indicator, value):
    """A guide answer as JSON gives it (a number, an ISO date) in the type the codec stores."""
    if indicator.type == "decimal":
        return Decimal(str(value))
    if indicator.type == "date":
        return date.fromisoformat(value)
    return value


def seed_firms(batch, count: int, level: int = 3, drafts: bool = True,
               counties: tuple[str, ...] = CHANGZHOU_COUNTIES) -> list[Firm]:
    """`count` firms with a user and an API token each and, with `drafts`, a complete
    draft (answers, services, evidence whose file really is in storage) ready to submit."""
    from rating.rules.uscc import uscc_from_serial

    edition = get_edition(batch.edition_code)
    template = good_application(batch, level)
    answers = {code: codec.to_storage(edition.indicator(code), typed_answer(edition.indicator(code), value))
               for code, value in template["answers"].items()}
    needs_evidence = [i.code for i in edition.indicators_for(level) if i.evidence_required]
    firms: list[Firm] = []
    for start in range(0, count, 200):
        chunk = []
        for n in range(start, min(count, start + 200)):
            serial = next(_SERIALS)
            county = counties[n % len(counties)]
            email = f"fault{serial}@firms.example"
            firm = Enterprise(name=f"故障演练企业{serial}有限公司", uscc=uscc_from_serial(serial, division=county),
                              district_code=county, industry="C", scale="small", contact_name="王工",
                              contact_phone="0519-12345678", email=email)
            user = User(email=email, role="enterprise", password_hash=password_hash(), name="王工",
                        enterprise=firm)
            application = None
            if drafts:
                # One file per firm: evidence shared between firms is an anomaly the scoring flags.
                stored = storage.store_upload(io.BytesIO(PDF_BYTES + f"% firm {serial}\n".encode()))
                application = Application(
                    enterprise=firm, batch=batch, target_level=level, status="draft", answers=dict(answers),
                    evidence=[Evidence(indicator_code=code, filename=f"{code}.pdf", size=stored.size,
                                       content_type=stored.content_type, sha256=stored.sha256)
                              for code in needs_evidence],
                    services=[CloudService(position=i, provider=s["provider"], service_name=s["service_name"],
                                           category=s["category"], deployment=s["deployment"],
                                           started_on=date.fromisoformat(s["started_on"]), ended_on=None,
                                           payments=[Payment(paid_on=date.fromisoformat(p["paid_on"]),
                                                             amount=p["amount"]) for p in s["payments"]])
                              for i, s in enumerate(template["cloud_services"])])
            chunk.append((firm, user, application))
        db.session.add_all([part for row in chunk for part in row if part is not None])
        db.session.commit()
        for firm, user, application in chunk:
            token, _expires = issue_token(user)
            firms.append(Firm(firm.id, firm.district_code, token,
                              application.id if application is not None else None))
        db.session.commit()
    return firms


def seed_staff(counties: tuple[str, ...] = CHANGZHOU_COUNTIES, city: str = "320400") -> dict[str, str]:
    """Reviewers for every county and the city, and a city official; name → token."""
    from rating.platform import audit

    # The tests truncate the audit head row that migrations insert; concurrent first
    # commits would race to create it again (and all but one fail as a conflict).
    audit.ensure_head()
    db.session.commit()
    people = {f"county:{code}": make_staff("reviewer", code) for code in counties}
    people["city"] = make_staff("reviewer", city)
    people["city_official"] = make_staff("official", city)
    tokens = {name: issue_token(user)[0] for name, user in people.items()}
    db.session.commit()
    return tokens


@dataclass(frozen=True)
class FilingPlan:
    """What a firm sends to file a complete application (built in the app context, sent
    from any thread)."""

    body: dict
    evidence_codes: tuple[str, ...]

    @classmethod
    def good(cls, batch, level: int = 3) -> "FilingPlan":
        indicators = get_edition(batch.edition_code).indicators_for(level)
        codes = tuple(i.code for i in indicators if i.evidence_required)
        return cls(good_application(batch, level), codes)
