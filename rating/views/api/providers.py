"""Cloud providers through the API: the officials' list, with aliases and blacklist status."""
from __future__ import annotations

from flask import request

from rating.services.review import providers
from rating.views.api import bp, token_required


@bp.get("/providers")
@token_required()
def list_providers():
    return providers.search((request.args.get("q") or "")[:200])
