"""Application → the JSON of API.md."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import get_translations, gettext

from rating import clock
from rating.rules import answers as answer_codec
from rating.rules.messages import Translation
from rating.rules.scoring import ScoreResult
from rating.services.review import blacklist, reviews
from rating.services.filing.applications import OPEN
from rating.services.reference import edition_of_batch


def money(value) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


# Flags for reviewers only: a firm is not told that its files match files of other firms.
STAFF_ONLY_FLAGS = frozenset({"shared_evidence"})


def score_json(application, firm: bool = False) -> dict | None:
    current = application.current_score
    if current is None:
        return None
    score = ScoreResult.from_storage(current.detail).to_dict(
        Translation(gettext, lambda s, p, n: get_translations().ngettext(s, p, n)))
    if firm:
        score["flags"] = [f for f in score["flags"] if f["code"] not in STAFF_ONLY_FLAGS]
    return score


def history_json(application) -> list[dict]:
    return [
        {
            "at": clock.local(h.at).isoformat(),
            "actor": h.actor.name if h.actor is not None else "system",
            "action": h.action,
            "from_status": h.from_status,
            "to_status": h.to_status,
            "from_stage": h.from_stage,
            "to_stage": h.to_stage,
            "comment": h.comment,
        }
        for h in application.history
    ]


def evidence_json(evidence) -> dict:
    return {
        "id": evidence.id,
        "filename": evidence.filename,
        "size": evidence.size,
        "sha256": evidence.sha256,
        "content_type": evidence.content_type,
        "indicator_code": evidence.indicator_code,
        "uploaded_at": clock.local(evidence.uploaded_at).isoformat(),
    }


def services_json(application) -> list[dict]:
    return [
        {
            "provider": s.provider,
            "service_name": s.service_name,
            "category": s.category,
            "deployment": s.deployment,
            "started_on": s.started_on.isoformat(),
            "ended_on": s.ended_on.isoformat() if s.ended_on else None,
            "payments": [{"paid_on": p.paid_on.isoformat(), "amount": money(p.amount)} for p in s.payments],
        }
        for s in application.services
    ]


def summary_json(application) -> dict:
    current = application.current_score
    return {
        "id": application.id,
        "enterprise_id": application.enterprise_id,
        "enterprise_name": application.enterprise.name,
        "batch_id": application.batch_id,
        "target_level": application.target_level,
        "status": application.status,
        "stage": application.stage,
        "version": application.version,
        "submitted_at": clock.local(application.submitted_at).isoformat() if application.submitted_at else None,
        "total_score": money(current.total) if current else None,
    }


def application_json(application, firm: bool = False) -> dict:
    """`firm`: the answer to the firm itself, without what is for reviewers only."""
    edition = edition_of_batch(application.batch.edition_code)
    return {
        **summary_json(application),
        "answers": answer_codec.for_api(edition, application.answers),
        "cloud_services": services_json(application),
        "evidence": [evidence_json(e) for e in application.evidence],
        "score": score_json(application, firm),
        "history": history_json(application),
        "alerts": blacklist.alerts(application) if application.status in OPEN else [],
        "adjustments": adjustments_json(application),
    }


def _points(value) -> float | int | None:
    return None if value is None else money(Decimal(str(value)))


def adjustments_json(application) -> list[dict]:
    """Reviewers' per-indicator adjustments and reasons, beside the machine's points of that round."""
    machine = {s.round: {i["code"]: i for i in s.detail["items"]} for s in application.scores}
    rows = reviews.adjustments_of(application.id)
    return [
        {"round": a.round, "stage": a.stage, "code": a.indicator_code,
         "machine_points": _points(machine.get(a.round, {}).get(a.indicator_code, {}).get("points")),
         "points": money(a.points), "reason": a.reason, "at": clock.local(a.created_at).isoformat()}
        for a in rows
    ]
