"""The star-rated cloud-adoption enterprise certification system."""
from __future__ import annotations

import os
import re
from pathlib import Path

from flask import Flask, Response, abort, g, has_request_context, request, session
from flask_babel import get_locale, get_translations, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import DBAPIError

from rating import body_size, clock, errors, pool, readonly
from rating import config as config_module
from rating.errors import ValidationFailed
from rating.extensions import babel, csrf, db, limiter, login_manager, migrate
from rating.platform import jobs
from rating.rules.messages import Translation

# The register_* functions below import the models, services, views and the CLI when
# create_app runs, not here: importing any rating.* module runs this file first, and a rule,
# a model or a worker's task must not load every view, form and command with it (lazy
# imports for start-up time, not to dodge a cycle).

ROOT = Path(__file__).resolve().parent.parent
_SURROGATE = re.compile("[\ud800-\udfff]")


class TextSafeResponse(Response):
    """A page with a lone surrogate in it (text no encoding can carry, which the embedded
    SQLite setup may hold from before JSON bodies were checked for them) shows U+FFFD in
    its place rather than failing as a whole."""

    def set_data(self, value) -> None:
        if isinstance(value, str):
            try:
                value = value.encode()
            except UnicodeEncodeError:
                value = _SURROGATE.sub("\ufffd", value).encode()
        super().set_data(value)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("INSTANCE_PATH") or str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.response_class = TextSafeResponse
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(config_module.from_environment(app.instance_path))
    if test_config:
        celery_overrides = test_config.pop("CELERY", None)
        app.config.from_mapping(test_config)
        if celery_overrides:
            app.config["CELERY"] = {**app.config["CELERY"], **celery_overrides}
    check_settings(app)
    register_request_clock(app)
    register_input_guards(app)
    register_extensions(app)
    register_read_only_requests(app)
    register_session_teardown(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_security_headers(app)
    register_template_filters(app)
    register_commands(app)
    return app


def check_settings(app: Flask) -> None:
    """Refuse to start on settings that cannot work, naming the variable to fix."""
    if os.environ.get("RATING_ENV") == "production" and not os.environ.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set when RATING_ENV=production")
    problem = config_module.storage_problem(app.config)
    if problem:
        raise RuntimeError(problem)


def register_request_clock(app: Flask) -> None:
    """Registered before any extension's hooks: the arrival instant is taken first."""
    app.before_request(clock.mark_arrival)


def register_input_guards(app: Flask) -> None:
    """Bodies no page takes, refused before any hook reads them (the CSRF check included):
    one larger than the route takes (rating/body_size.py, first of all), a form part without
    a name (Flask-WTF and the views expect every key to be a string), and JSON posted to a
    page (Flask-WTF would hand any JSON value to a form as its field data, where a list, a
    string or an over-deep document is a server error)."""
    body_size.register(app)

    @app.before_request
    def refuse_unreadable_bodies():
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return
        if request.is_json and not request.path.startswith("/api/"):
            abort(415)
        if None in request.form or None in request.files:
            raise ValidationFailed(gettext("请求格式不正确。"))


def select_locale() -> str:
    if not has_request_context():
        return "zh_Hans_CN"  # commands and workers speak the default language
    wanted = request.args.get("lang")
    if wanted in ("zh_Hans_CN", "en"):
        session["lang"] = wanted
        return wanted
    if request.path.startswith("/api/"):
        return "en" if request.accept_languages.best_match(["zh", "en"]) == "en" else "zh_Hans_CN"
    return session.get("lang") or "zh_Hans_CN"


def register_extensions(app: Flask) -> None:
    from rating import models  # noqa: F401  (tables known to Alembic and the session)

    pool.configure(app)
    db.init_app(app)
    pool.register(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(ROOT / "rating" / "translations"),
    )
    install_template_gettext(app)
    # Limits shared by all web processes through Redis when there is one; if Redis
    # dies, each process falls back to counting in memory rather than failing logins.
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    jobs.init_celery(app)

    from rating.platform import mailer
    from rating.services.accounts.password_reset import reset_link
    from rating.services.accounts.signin import load_user, load_user_from_request

    mailer.make_reset_links_with(reset_link)

    login_manager.user_loader(load_user)
    login_manager.request_loader(load_user_from_request)
    login_manager.login_message = _l("请先登录。")


def install_template_gettext(app: Flask) -> None:
    """Templates translate a hundred strings or so a page, and Flask-Babel's own callables
    resolve its context, domain and locale through Flask's proxies for each one (about ten
    lookups a string, a tenth of a cached page's time). These look the translations up once
    for each locale a request uses: `force_locale` (an email in its reader's language)
    replaces the locale object, and with it the translations these hand out."""
    def translations():
        context = g.get("_flask_babel") if g else None
        if context is None:
            return get_translations()
        state = context.__dict__
        cached = state.get("rating_translations")
        if cached is not None and cached[0] is state.get("babel_locale"):
            return cached[1]
        found = get_translations()   # sets babel_locale when it was not yet chosen
        state["rating_translations"] = (state.get("babel_locale"), found)
        return found

    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )


def register_read_only_requests(app: Flask) -> None:
    readonly.register(app)


def register_session_teardown(app: Flask) -> None:
    """End each request's (and task's) session before Flask-SQLAlchemy's own teardown does
    (teardowns run last registered first). When the database cut the connection after the
    answer was made, that teardown's rollback raises, and the answer, a 201 already built,
    became a bare 500 from the server; here the dead connection is discarded instead."""
    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        try:
            db.session.close()
        except DBAPIError:
            db.session().invalidate()


def register_blueprints(app: Flask) -> None:
    from rating.views import (account, api, applications, auth, claims, dashboard, dev_mail, health, main, publicity,
                              ratings, reviews, verify)
    from rating.views import audit as audit_pages
    from rating.views import conflicts as conflict_pages
    from rating.views import providers as provider_pages
    from rating.views import batches as batch_pages
    from rating.views import editions as edition_pages
    from rating.views import quotas as quota_pages
    from rating.views import staff as staff_pages

    app.register_blueprint(health.bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(applications.bp)
    app.register_blueprint(reviews.bp)
    app.register_blueprint(publicity.bp)
    app.register_blueprint(ratings.bp)
    app.register_blueprint(claims.bp)
    app.register_blueprint(verify.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(dev_mail.bp)
    app.register_blueprint(audit_pages.bp)
    app.register_blueprint(conflict_pages.bp)
    app.register_blueprint(provider_pages.bp)
    app.register_blueprint(staff_pages.bp)
    app.register_blueprint(batch_pages.bp)
    app.register_blueprint(edition_pages.bp)
    app.register_blueprint(quota_pages.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    # The JSON API authenticates with bearer tokens only, so there is no cookie for a
    # forged cross-site request to ride on; browser forms keep CSRF.
    csrf.exempt(api.bp)


def register_errorhandlers(app: Flask) -> None:
    errors.register(app)


# What anyone may see and any cache may keep (their own Cache-Control, if any, stands).
# Everything else, pages added later included, is private: no browser or proxy stores it.
PUBLIC_ENDPOINTS = frozenset({
    "static", "health.healthz", "main.public_totals", "api.get_totals",
    "verify.show", "verify.public_key", "api.verify", "api.certificate_key",
    "publicity.index", "publicity.show", "api.openapi_document",
})


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if app.config["STRICT_TRANSPORT_SECURITY"]:
            response.headers.setdefault("Strict-Transport-Security", app.config["STRICT_TRANSPORT_SECURITY"])
        if request.endpoint not in PUBLIC_ENDPOINTS or request.method not in ("GET", "HEAD"):
            # Downloads too (evidence, certificates, exports): whatever send_file chose.
            response.headers["Cache-Control"] = "private, no-store"
        return response

    @app.context_processor
    def template_globals():
        # `translate` renders stored score messages (templates + parameters) in the
        # reader's language; Jinja's own `_` cannot be passed to Python code.
        # Messages counted by their points choose their form by ngettext ("1 point").
        return {"current_locale": str(get_locale()),
                "translate": Translation(gettext, lambda s, p, n: get_translations().ngettext(s, p, n))}


def register_template_filters(app: Flask) -> None:
    from rating import permissions
    from rating.models import ApplicationStatus, Stage
    from rating.models.enums import LabelledEnum, unit_label
    from rating.views.common import public_url

    def localtime(moment) -> str:
        return clock.local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""

    def label(value, enum: type[LabelledEnum] | None = None) -> str:
        """`state|label(EntryOutcome)`: a stored state's label from its enum (a member needs
        no enum), so templates never spell a state's value or its words."""
        if value is None or value == "":
            return ""
        return (enum(value) if enum is not None else value).label

    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["status_label"] = lambda value: label(value, ApplicationStatus)
    app.jinja_env.filters["stage_label"] = lambda value: label(value, Stage)
    # The states' enums, for comparing with members (`job.state == ExportState.done`) and
    # listing them in filters; and who may do what, from permissions.py alone.
    app.jinja_env.globals.update({enum.__name__: enum for enum in LabelledEnum.__subclasses__()})
    app.jinja_env.globals.update(is_official=permissions.is_official, is_staff=permissions.is_staff,
                                 is_firm_user=permissions.is_firm_user, has_own_queue=permissions.has_own_queue,
                                 can_manage_editions=permissions.can_manage_editions)
    app.jinja_env.filters["unit_label"] = unit_label
    app.jinja_env.globals["public_url"] = public_url


def register_commands(app: Flask) -> None:
    from rating import cli

    cli.register(app)
