"""How large a request body may be, decided before anything reads it.

File uploads take MAX_UPLOAD_BYTES and a margin for the multipart framing and the form's
other fields (the use case then says "file too large" at exactly the limit); every other
body, JSON or form, MAX_FORM_BYTES. A body announced larger (Content-Length) is refused at
once, unread (413); one without a length (chunked) is read no further than the limit:
Werkzeug reads at most `request.max_content_length` bytes (an upload's parser then answers
413), and other bodies are read here, up to one byte past the limit, to answer 413 too.
"""
from __future__ import annotations

from flask import Flask, abort, current_app, request
from flask_babel import gettext as _

from rating.config import MULTIPART_MARGIN_BYTES

# The endpoints that take a file: evidence (page and API), an imported ratings list, a
# certificate PDF checked on the public verification page.
UPLOAD_ENDPOINTS = frozenset({
    "applications.upload_evidence", "api.upload_evidence", "ratings.import_list", "verify.check_file",
})


def is_upload() -> bool:
    return request.endpoint in UPLOAD_ENDPOINTS


def limit() -> int:
    """The most bytes the request at hand may send."""
    if is_upload():
        return current_app.config["MAX_UPLOAD_BYTES"] + MULTIPART_MARGIN_BYTES
    return current_app.config["MAX_FORM_BYTES"]


def too_large_message() -> str:
    if is_upload():
        return _("文件过大：单个文件不能超过 %(mb)s MB。", mb=current_app.config["MAX_UPLOAD_BYTES"] // (1024 * 1024))
    return _("提交的内容过大（不能超过 %(kb)s KB），请精简后重试。", kb=current_app.config["MAX_FORM_BYTES"] // 1024)


def register(app: Flask) -> None:
    """Registered before every other hook that may read the body (CSRF, the input guards)."""

    @app.before_request
    def limit_body_size():
        most = limit()
        request.max_content_length = most
        if request.content_length is not None:
            if request.content_length > most:
                abort(413)
        elif "chunked" in request.headers.get("Transfer-Encoding", "").lower() and not is_upload() \
                and request.environ.get("wsgi.input_terminated"):
            # Chunked: Werkzeug stops reading at the limit, but a JSON body cut there would
            # read as malformed (422). One byte more tells a body over the limit (413); the
            # bytes read are what the form or JSON parser is then given.
            request.max_content_length = most + 1
            if len(request.get_data(cache=True)) > most:
                abort(413)
