"""Reference data: divisions, batches, guide editions."""
from __future__ import annotations

from flask_babel import get_locale

from rating import clock
from rating.services import batches as programme
from rating.services import reference
from rating.views.api import bp


@bp.get("/jurisdictions")
def jurisdictions():
    return [
        {"code": j.code, "name": j.name, "level": j.level, "parent_code": j.parent_code}
        for j in reference.jurisdictions()
    ]


def batch_json(batch) -> dict:
    return {
        "id": batch.id,
        "name": batch.name,
        "guide_edition": batch.edition_code,
        "opens_at": clock.local(batch.opens_at).isoformat(),
        "closes_at": clock.local(batch.closes_at).isoformat(),
        "is_open": batch.is_open_at(clock.now()),
        "usage_cutoff": batch.usage_cutoff.isoformat(),
        "investment_from": batch.investment_from.isoformat(),
        "investment_to": batch.investment_to.isoformat(),
        "year": batch.year,
        "number": batch.number,
    }


def batch_listed(batch, counts: dict[int, dict[str, int]]) -> dict:
    """A batch as `GET /batches` lists it (`counts`: programme.counts_by_state())."""
    return {**batch_json(batch),
            "review_days": {stage: batch.review_days(stage) for stage in ("county", "city", "province")},
            "levels": programme.offered_levels(batch),
            "application_count": sum(counts.get(batch.id, {}).values())}


@bp.get("/batches")
def batches():
    counts = programme.counts_by_state()
    return [batch_listed(b, counts) for b in reference.batches()]


@bp.get("/guide-editions/<code>")
def guide_edition(code: str):
    locale = "en" if str(get_locale()).startswith("en") else "zh"
    return reference.get_edition(code).to_api(locale)
