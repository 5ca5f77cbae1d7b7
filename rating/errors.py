"""Errors raised by services, and how they reach people (JSON for the API, pages for HTML)."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from rating import body_size
from rating.extensions import db

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A use case refused: carries the API error code, HTTP status and a clear message."""

    code = "validation_error"
    status = 422

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(str(message))
        self.message = str(message)
        self.fields = fields or {}


class ValidationFailed(ServiceError):
    code, status = "validation_error", 422


class Ineligible(ServiceError):
    code, status = "ineligible", 422


class Conflict(ServiceError):
    code, status = "conflict", 409


class NotFound(ServiceError):
    code, status = "not_found", 404


class Forbidden(ServiceError):
    code, status = "forbidden", 403


class Unauthorized(ServiceError):
    code, status = "unauthorized", 401


class TooLarge(ServiceError):
    code, status = "too_large", 413


class RateLimited(ServiceError):
    code, status = "rate_limited", 429


class Unavailable(ServiceError):
    """Something the request needs (database, file storage) is down for now: try again later."""

    code, status = "unavailable", 503
    retry_after = 5


_HTTP_CODES = {
    400: ("validation_error", _l("请求格式不正确。")),
    401: ("unauthorized", _l("请先登录或提供有效的访问令牌。")),
    403: ("forbidden", _l("您没有权限执行此操作。")),
    404: ("not_found", _l("未找到请求的内容。")),
    405: ("validation_error", _l("不支持该请求方法。")),
    409: ("conflict", _l("操作与当前状态冲突。")),
    413: ("too_large", _l("上传的文件或请求过大。")),
    415: ("validation_error", _l("请求内容类型不受支持。")),
    422: ("validation_error", _l("提交的数据有误。")),
    429: ("rate_limited", _l("请求过于频繁，请稍后再试。")),
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(code: str, message: str, status: int, fields: dict | None = None):
    body = {"error": {"code": code, "message": str(message), "fields": fields or {}}}
    return jsonify(body), status


def database_unavailable(exc: Exception) -> bool:
    """A database error that retrying can cure: the server is down, restarting or cut the
    connection (OperationalError), or the connection was found dead (invalidated)."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def unavailable_response(message: str, fields: dict | None = None):
    """503 with Retry-After. The page stands alone: base.html would look up the logged-in
    user, which needs the database that has just failed."""
    if wants_json():
        response, status = error_response(Unavailable.code, message, Unavailable.status, fields)
    else:
        response = make_response(render_template("unavailable.html", message=message))
        status = Unavailable.status
    response.headers["Retry-After"] = str(Unavailable.retry_after)
    return response, status


def register(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        if isinstance(exc, Unavailable):
            return unavailable_response(exc.message, exc.fields)
        if wants_json():
            return error_response(exc.code, exc.message, exc.status, exc.fields)
        return render_template("error.html", message=exc.message, status=exc.status), exc.status

    @app.errorhandler(IntegrityError)
    @app.errorhandler(StaleDataError)
    def concurrent_change(exc: Exception):
        """The safety net behind the use cases, which turn a clash at their flush into a
        `Conflict` themselves: a clash that only shows at the edge's commit (another request
        changed or took the same row in between) is the same conflict, not a server error."""
        log.warning("conflict at commit on %s %s: %s", request.method, request.path,
                    (str(exc).strip().splitlines() or [type(exc).__name__])[0])
        db.session.rollback()
        return service_error(Conflict(_("数据刚被他人修改或已存在，本次操作未保存；请刷新页面后重试。")))

    @app.errorhandler(DBAPIError)
    def database_error(exc: DBAPIError):
        if not database_unavailable(exc):
            return unexpected(exc)
        reason = (str(exc.orig or exc).strip().splitlines() or [type(exc).__name__])[0]
        log.warning("database unavailable on %s %s: %s", request.method, request.path, reason)
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001  (the connection is gone; the pool replaces it)
            log.debug("rollback after a lost connection failed", exc_info=True)
        return unavailable_response(_("数据库暂时不可用，请稍后重试；如不确定刚才的操作是否完成，请先刷新查看。"))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        code, default_message = _HTTP_CODES.get(status, ("validation_error", _l("请求无法处理。")))
        message = str(default_message)
        if status == 413:
            message = body_size.too_large_message()
        if wants_json():
            response, _status = error_response(code, message, status)
            if status == 405 and exc.get_response().headers.get("Allow"):
                response.headers["Allow"] = exc.get_response().headers["Allow"]
        else:
            response = make_response(render_template("error.html", message=message, status=status))
        if status == 416 and exc.get_response().headers.get("Content-Range"):
            # `bytes */<length>`: how long the file is, so the client can ask again.
            response.headers["Content-Range"] = exc.get_response().headers["Content-Range"]
        return response, status

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        message = _("系统暂时无法处理您的请求，请稍后重试；您已保存的内容不会丢失。")
        if wants_json():
            return error_response("internal_error", message, 500)
        return render_template("error.html", message=message, status=500), 500
