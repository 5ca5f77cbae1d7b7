"""GET /openapi.json: the OpenAPI 3.1 document of this API (public).

The document is written by hand in rating/openapi.yaml, beside the code it describes;
tests/platform/test_openapi.py holds it to the routes and live responses.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import yaml
from flask import current_app

from rating.views.api import bp

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"


@functools.cache
def document() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@functools.cache
def _document_json() -> str:
    # Serialised once, in the document's own order (jsonify would sort the keys).
    return json.dumps(document(), ensure_ascii=False, separators=(",", ":"))


@bp.get("/openapi.json")
def openapi_document():
    response = current_app.response_class(_document_json(), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
