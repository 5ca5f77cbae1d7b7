"""JSON bodies → the formdata the WTForms classes read, and form errors → API `fields`.

The API validates with the same form classes as the HTML pages: a JSON document is
flattened into the names WTForms gives its fields (`answers-<code>`,
`cloud_services-0-payments-1-amount`). Values of the wrong JSON type become strings the
field refuses, so a wrong type gets the same clear message as a bad form entry.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from forms.fields import INVALID
from rating.errors import ValidationFailed

SERVICE_KEYS = ("provider", "service_name", "category", "deployment", "started_on", "ended_on")


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (dict, list)):
        return INVALID
    return str(value)


def application_formdata(body: dict, multi_codes: frozenset[str] = frozenset()
                         ) -> tuple[MultiDict, list[str] | None, bool]:
    """Flatten an application body. Returns (formdata, answer codes given, services given).

    `multi_codes` are the multi-choice indicators: only they take a JSON list.
    """
    data = MultiDict()
    errors: dict[str, list[str]] = {}
    if body.get("target_level") is not None:
        data.add("target_level", _scalar(body["target_level"]))
    if "version" in body and body["version"] is not None:
        data.add("version", _scalar(body["version"]))
    codes: list[str] | None = None
    answers = body.get("answers")
    if answers is not None:
        if not isinstance(answers, dict):
            errors["answers"] = [_("answers 必须是以指标代码为键的对象。")]
        else:
            codes = list(answers)
            for code, value in answers.items():
                if value is None:
                    continue
                if code in multi_codes and isinstance(value, list):
                    for item in value:
                        data.add(f"answers-{code}", _scalar(item))
                elif code in multi_codes or isinstance(value, (list, dict)):
                    data.add(f"answers-{code}", INVALID)
                else:
                    data.add(f"answers-{code}", _scalar(value))
    services = body.get("cloud_services")
    services_given = services is not None
    if services_given:
        if not isinstance(services, list):
            errors["cloud_services"] = [_("cloud_services 必须是数组。")]
        else:
            for i, service in enumerate(services):
                if not isinstance(service, dict):
                    errors[f"cloud_services.{i}"] = [_("每项云服务必须是对象。")]
                    continue
                for key in SERVICE_KEYS:
                    # Every key is present (empty when missing) so that an incomplete
                    # row keeps its index and gets its own "required" messages.
                    value = service.get(key)
                    data.add(f"cloud_services-{i}-{key}", "" if value is None else _scalar(value))
                payments = service.get("payments") or []
                if not isinstance(payments, list):
                    errors[f"cloud_services.{i}.payments"] = [_("payments 必须是数组。")]
                    continue
                for j, payment in enumerate(payments):
                    if not isinstance(payment, dict):
                        errors[f"cloud_services.{i}.payments.{j}"] = [_("每笔付款必须是对象。")]
                        continue
                    for key in ("paid_on", "amount"):
                        if payment.get(key) is not None:
                            data.add(f"cloud_services-{i}-payments-{j}-{key}", _scalar(payment[key]))
    if errors:
        raise ValidationFailed(_("提交的数据有误。"), errors)
    return data, codes, services_given


def flatten_errors(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """WTForms' nested errors → {"answers.code": [...], "cloud_services.0.amount": [...]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            flat.update(flatten_errors(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(errors, list):
        if all(isinstance(e, str) or not isinstance(e, (dict, list)) for e in errors):
            messages = [str(e) for e in errors if e]
            if messages:
                flat[prefix] = messages
        else:
            for index, value in enumerate(errors):
                if value:
                    flat.update(flatten_errors(value, f"{prefix}.{index}"))
    return flat


def strict_scalar(value: Any) -> str:
    """A JSON scalar as form text, for fields that take no booleans: true/false, objects and
    arrays become a value every field refuses."""
    if isinstance(value, (bool, dict, list)):
        return INVALID
    return str(value)


def flat_formdata(body: dict, keys: tuple[str, ...], lists: tuple[str, ...] = ()) -> MultiDict:
    """A flat JSON object as formdata: `keys` are scalars, `lists` arrays of ids or strings."""
    data = MultiDict()
    for key in keys:
        if body.get(key) is not None:
            data.add(key, strict_scalar(body[key]))
    for key in lists:
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise ValidationFailed(_("提交的数据有误。"), {key: [_("%(key)s 必须是数组。", key=key)]})
        for item in value:
            data.add(key, INVALID if isinstance(item, bool) or not isinstance(item, (int, str)) else str(item))
    return data


def validated(form):
    """The form, validated; its errors as a 422 otherwise."""
    if not form.validate():
        raise ValidationFailed(_("提交的数据有误，请检查标出的项目。"), flatten_errors(form.errors))
    return form
