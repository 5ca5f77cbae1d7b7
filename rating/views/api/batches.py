"""Batches: open, edit, extend or close early, and a city's own deadline (API.md, "Running
the programme"). `GET /batches` is in reference.py."""
from __future__ import annotations

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from forms.batches import API_FIELDS, BatchForm, CityDeadlineForm
from forms.fields import INVALID
from forms.jsondata import flat_formdata, strict_scalar, validated
from rating import clock
from rating.errors import ValidationFailed
from rating.extensions import db
from rating.services import batches
from rating.views.api import api_user, bp, json_body, token_required
from rating.views.api.reference import batch_listed

OPTIONAL = ("levels",)


def _formdata(body: dict) -> tuple[MultiDict, set[str]]:
    """The body as the form's formdata, and the API keys it gives."""
    data, given = MultiDict(), set()
    for key in ("name", "guide_edition", "opens_at", "closes_at", "usage_cutoff", "investment_from",
                "investment_to"):
        if body.get(key) is not None:
            data.add(key, strict_scalar(body[key]))
            given.add(key)
    days = body.get("review_days")
    if days is not None:
        if not isinstance(days, dict):
            raise ValidationFailed(_("提交的数据有误。"), {"review_days": [_("review_days 必须是对象。")]})
        for stage in ("county", "city", "province"):
            if days.get(stage) is not None:
                data.add(f"review_days_{stage}", strict_scalar(days[stage]))
                given.add(f"review_days.{stage}")
    if body.get("levels") is not None:
        levels = body["levels"]
        if not isinstance(levels, list):
            raise ValidationFailed(_("提交的数据有误。"), {"levels": [_("levels 必须是数组。")]})
        for level in levels:
            data.add("levels", str(level) if isinstance(level, int) and not isinstance(level, bool) else INVALID)
        given.add("levels")
    return data, given


def terms_from(form: BatchForm, keys) -> dict:
    """The form's values under the API's names, for the given keys only."""
    terms: dict = {}
    for key in keys:
        value = form[API_FIELDS[key]].data
        if key.startswith("review_days."):
            terms.setdefault("review_days", {})[key.split(".")[1]] = value
        else:
            terms[key] = value
    return terms


def _validated(body: dict, partial: bool) -> dict:
    formdata, given = _formdata(body)
    form = BatchForm(formdata=formdata, meta={"csrf": False})
    form.validate()
    wanted = given if partial else set(API_FIELDS) - ({*OPTIONAL} - given)
    errors = {key: [str(m) for m in form[API_FIELDS[key]].errors] for key in wanted if form[API_FIELDS[key]].errors}
    if errors:
        raise ValidationFailed(_("提交的数据有误，请检查标出的项目。"), errors)
    return terms_from(form, wanted)


@bp.post("/batches")
@token_required()
def create_batch():
    batch = batches.create(api_user(), _validated(json_body(), partial=False))
    db.session.commit()
    return batch_listed(batch, batches.counts_by_state()), 201


@bp.patch("/batches/<int:batch_id>")
@token_required()
def update_batch(batch_id: int):
    batch = batches.update(api_user(), batch_id, _validated(json_body(), partial=True))
    db.session.commit()
    return batch_listed(batch, batches.counts_by_state())


@bp.put("/batches/<int:batch_id>/city-deadlines/<city_code>")
@token_required()
def set_city_deadline(batch_id: int, city_code: str):
    form = validated(CityDeadlineForm(formdata=flat_formdata(json_body(), ("closes_at",)), meta={"csrf": False}))
    record = batches.set_city_deadline(api_user(), batch_id, city_code, form.closes_at.data)
    db.session.commit()
    return {"batch_id": record.batch_id, "city_code": record.city_code,
            "closes_at": clock.local(record.closes_at).isoformat()}
