"""Frozen submissions and the difference between two rounds (what a resubmission changed)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from rating.extensions import db
from rating.models import Application, SubmissionSnapshot
from rating.rules import answers as answer_codec
from rating.services.reference import edition_of_batch


def _services(application: Application) -> list[dict]:
    return [
        {"provider": s.provider, "service_name": s.service_name, "category": s.category,
         "deployment": s.deployment, "started_on": s.started_on.isoformat(),
         "ended_on": s.ended_on.isoformat() if s.ended_on else None,
         "payments": [{"paid_on": p.paid_on.isoformat(), "amount": str(p.amount)} for p in s.payments]}
        for s in application.services
    ]


def _evidence(application: Application) -> list[dict]:
    return [{"id": e.id, "filename": e.filename, "sha256": e.sha256, "size": e.size,
             "indicator_code": e.indicator_code} for e in application.evidence]


def take(application: Application) -> None:
    """Freeze the current round (call in the submit transaction, after the round is bumped)."""
    db.session.add(SubmissionSnapshot(application_id=application.id, round=application.submission_round,
                                      answers=dict(application.answers or {}), services=_services(application),
                                      evidence=_evidence(application)))


def get(application_id: int, round_: int) -> SubmissionSnapshot | None:
    return db.session.execute(
        select(SubmissionSnapshot).where(SubmissionSnapshot.application_id == application_id,
                                         SubmissionSnapshot.round == round_)
    ).scalar_one_or_none()


def _service_key(service: dict) -> tuple:
    return (service["provider"], service["service_name"], service["category"], service["deployment"],
            service["started_on"], service["ended_on"],
            tuple((p["paid_on"], p["amount"]) for p in service["payments"]))


def diff(application: Application) -> dict[str, Any] | None:
    """The current round against the one before it; None before the first resubmission."""
    current_round = application.submission_round
    if current_round < 2:
        return None
    before, after = get(application.id, current_round - 1), get(application.id, current_round)
    if before is None or after is None:
        return None
    edition = edition_of_batch(application.batch.edition_code)
    old, new = answer_codec.for_api(edition, before.answers), answer_codec.for_api(edition, after.answers)
    answers = []
    for indicator in edition.indicators:
        if old.get(indicator.code) != new.get(indicator.code):
            answers.append({"code": indicator.code, "title": indicator.title,
                            "before": old.get(indicator.code), "after": new.get(indicator.code)})
    old_services = {_service_key(s): s for s in before.services}
    new_services = {_service_key(s): s for s in after.services}
    old_files = {(e["sha256"], e["filename"], e["indicator_code"]): e for e in before.evidence}
    new_files = {(e["sha256"], e["filename"], e["indicator_code"]): e for e in after.evidence}
    return {
        "from_round": current_round - 1,
        "to_round": current_round,
        "answers": answers,
        "services": {"added": [s for k, s in new_services.items() if k not in old_services],
                     "removed": [s for k, s in old_services.items() if k not in new_services]},
        "evidence": {"added": [e for k, e in new_files.items() if k not in old_files],
                     "removed": [e for k, e in old_files.items() if k not in new_files]},
    }
