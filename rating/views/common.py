"""What HTML views and API views share: form → use-case input, loading with scope checks."""
from __future__ import annotations

from functools import wraps

from flask import abort, current_app, has_request_context, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from rating.errors import NotFound
from rating.models import Application
from rating.models.types import valid_id  # noqa: F401  (views import it from here)
from rating.permissions import can_view_application, is_official
from rating.rules.scoring import PaymentIn, ServiceIn
from rating.services.filing.applications import ApplicationInput
from rating.services.filing.lookups import get_application


def services_from_form(form) -> list[ServiceIn]:
    services = []
    for entry in form.cloud_services.entries:
        row = entry.form
        services.append(
            ServiceIn(
                provider=row.provider.data.strip(),
                service_name=row.service_name.data.strip(),
                category=row.category.data,
                deployment=row.deployment.data,
                started_on=row.started_on.data,
                ended_on=row.ended_on.data,
                payments=tuple(
                    PaymentIn(paid_on=p.form.paid_on.data, amount=p.form.amount.data)
                    for p in row.payments.entries
                ),
            )
        )
    return services


def input_from_form(form, answer_codes, services_given: bool) -> ApplicationInput:
    """The use-case input from a validated application form.

    `answer_codes` are the answers the request carried (None: none given); HTML posts
    pass every code shown, so an emptied field clears its answer.
    """
    answers = None
    if answer_codes is not None:
        fields = form.answers.form
        # An unknown code is passed on as None: the service names it in its error.
        answers = {code: fields[code].data if code in fields else None for code in answer_codes}
    return ApplicationInput(
        target_level=form.target_level.data if form.target_level.raw_data else None,
        answers=answers,
        services=services_from_form(form) if services_given else None,
        version=form.version.data,
    )


def visible_application(user, application_id: int) -> Application:
    """The application if `user` may see it; 404 otherwise (no existence leak)."""
    if not valid_id(application_id):
        raise NotFound(_("未找到该申报。"))
    application = get_application(application_id)
    if application is None or not can_view_application(user, application):
        raise NotFound(_("未找到该申报。"))
    return application


def public_url(endpoint: str, **values) -> str:
    """An absolute link to one of our pages, built on PUBLIC_BASE_URL (which names any path
    prefix the site is served under), never on the Host header the client chose."""
    path = url_for(endpoint, **values)
    prefix = request.script_root if has_request_context() else ""
    return current_app.config["PUBLIC_BASE_URL"] + path[len(prefix):]


def official_required(view):
    """Pages of officials and administrators: a visitor logs in first, anyone else gets 403."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not is_official(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapper
