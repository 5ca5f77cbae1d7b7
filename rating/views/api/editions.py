"""Guide editions through the API: the list, an edition's source, uploads (admins)."""
from __future__ import annotations

from flask import Response, request
from flask_babel import gettext as _

from rating.errors import ValidationFailed
from rating.extensions import db
from rating.models import Role
from rating.platform import text
from rating.services import guide_editions
from rating.views.api import api_user, bp, token_required


@bp.get("/guide-editions")
def guide_editions_list():
    return [{"code": e.code, "title": e.title, "levels": list(e.levels), "in_use": e.in_use}
            for e in guide_editions.listing()]


@bp.get("/guide-editions/<code>/source")
def guide_edition_source(code: str):
    source, media_type = guide_editions.source_of(code)
    return Response(source, mimetype=media_type, headers={"Content-Type": f"{media_type}; charset=utf-8"})


@bp.post("/guide-editions")
@token_required(Role.admin)
def upload_guide_edition():
    media_type = guide_editions.media_type_of(request.content_type)
    try:
        source = request.get_data(cache=False).decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(_("指南文件必须是 UTF-8 编码。"), {"source": [_("指南文件必须是 UTF-8 编码。")]})
    if text.has_hidden(source):
        raise ValidationFailed(str(text.HIDDEN_MESSAGE), {"source": [str(text.HIDDEN_MESSAGE)]})
    code = guide_editions.upload(api_user(), source, media_type)
    db.session.commit()
    return {"code": code}, 201
