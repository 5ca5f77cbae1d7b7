"""The firm's application form between the page and the use cases: blank rows dropped, the
form filled from a stored application, a refused submission's messages placed on the page,
and what the firm must meet (the level's rules and the batch's dates) shown on top of it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from forms.application import application_form_class
from rating.models import Application
from rating.rules.editions import Edition
from rating.services.filing import applications as filing

_ROW = re.compile(r"^cloud_services-(\d+)-(.+)$")
_PAYMENT = re.compile(r"^payments-(\d+)-(.+)$")


def compact_rows(formdata: MultiDict) -> MultiDict:
    """Drop blank service and payment rows a person left empty, and renumber the rest."""
    services: dict[int, MultiDict] = {}
    kept = MultiDict()
    for key, value in formdata.items(multi=True):
        match = _ROW.match(key)
        if match:
            services.setdefault(int(match.group(1)), MultiDict()).add(match.group(2), value)
        else:
            kept.add(key, value)
    new_index = 0
    for index in sorted(services):
        row = services[index]
        payments: dict[int, dict[str, str]] = {}
        plain = {}
        for key, value in row.items():
            pm = _PAYMENT.match(key)
            if pm:
                payments.setdefault(int(pm.group(1)), {})[pm.group(2)] = value
            else:
                plain[key] = value
        payments = {i: p for i, p in payments.items() if any(v.strip() for v in p.values())}
        # Selects always carry a value, so a row counts as blank when its text fields are.
        if not any((plain.get(k) or "").strip() for k in ("provider", "service_name", "started_on", "ended_on")) \
                and not payments:
            continue
        for key, value in plain.items():
            kept.add(f"cloud_services-{new_index}-{key}", value)
        for p_index, (_old, payment) in enumerate(sorted(payments.items())):
            for key, value in payment.items():
                kept.add(f"cloud_services-{new_index}-payments-{p_index}-{key}", value)
        new_index += 1
    return kept



def form_for(application, edition, formdata=None):
    form_class = application_form_class(edition)
    if formdata is not None:
        return form_class(formdata=formdata)
    data = {
        "target_level": application.target_level,
        "version": application.version,
        "answers": {code: value for code, value in
                    filing.answer_codec.for_scoring(edition, application.answers).items()},
        "cloud_services": [
            {
                "provider": s.provider, "service_name": s.service_name, "category": s.category,
                "deployment": s.deployment, "started_on": s.started_on, "ended_on": s.ended_on,
                "payments": [{"paid_on": p.paid_on, "amount": p.amount} for p in s.payments],
            }
            for s in application.services
        ],
    }
    for indicator in edition.indicators:
        value = data["answers"].get(indicator.code)
        if indicator.type == "boolean" and value is not None:
            data["answers"][indicator.code] = "true" if value else "false"
    form = form_class(formdata=None, data=data)
    return form



def located(fields: dict[str, list[str]], edition) -> list[tuple[str | None, str | None, str]]:
    """A refused submission's messages as (what, where on the page, message): "请填写此项。"
    ten times over tells the firm nothing until it says which item, with a link to it."""
    english = str(get_locale()).startswith("en")
    items = []
    for name, messages in fields.items():
        _kind, _dot, code = name.partition(".")
        label = anchor = None
        indicator = indicator_of(edition, code) if code else None
        if indicator is not None:
            label, anchor = (indicator.title_en if english else indicator.title), f"ind-{code}"
        elif name == "cloud_services":
            label, anchor = _("云服务清单"), "services"
        elif name == "pledge":
            label, anchor = _("诚信承诺"), "submission"
        items.extend((label, anchor, message) for message in messages)
    return items


def indicator_of(edition, code: str):
    try:
        return edition.indicator(code)
    except KeyError:
        return None


@dataclass(frozen=True)
class Requirements:
    """What the chosen level and the batch ask of the firm, shown on top of the form."""

    level: int
    level_name: str
    pass_score: Decimal
    min_investment_yuan: Decimal
    min_usage_months: int
    deployments: tuple[str, ...]
    investment_from: date
    investment_to: date
    usage_cutoff: date


def requirements(application: Application, edition: Edition) -> Requirements:
    rule = edition.levels[application.target_level]
    english = str(get_locale()).startswith("en")
    batch = application.batch
    return Requirements(
        level=rule.level, level_name=rule.name_en if english else rule.name, pass_score=rule.pass_score,
        min_investment_yuan=rule.min_investment_yuan, min_usage_months=rule.min_usage_months,
        deployments=rule.deployments, investment_from=batch.investment_from, investment_to=batch.investment_to,
        usage_cutoff=batch.usage_cutoff,
    )
