"""Configuration: defaults for the embedded single-machine setup, overridden by the environment.

Every variable of API.md is read here and nowhere else, so one look tells an operator
what the system listens to.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

STORAGE_BACKENDS = ("local", "s3")
# What an upload's body may carry besides the file: the multipart framing, the other fields.
MULTIPART_MARGIN_BYTES = 64 * 1024
# Where the local mail catcher of `make run` listens (rating/platform/mail_catcher.py).
MAIL_CATCHER_PORT = 2525


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _transport_options(broker_url: str) -> dict:
    if not broker_url.startswith("redis"):
        # The SQLAlchemy transport hands its options to create_engine(): none apply.
        return {}
    # Unacknowledged jobs of a dead worker return after the visibility timeout; fail
    # fast when Redis is down so a web request never hangs (the sweeper publishes later).
    # "sorted": a worker polls its queues in the order of their names, every time, so
    # "celery" (scoring, routing, certificates) is served before "mail" whenever both wait:
    # during a burst the firms see their scores first and the emails follow the burst,
    # instead of every email's sending slowing the scoring it reports (round robin).
    return {"visibility_timeout": 600, "socket_connect_timeout": 2, "socket_timeout": 5,
            "retry_on_timeout": True, "queue_order_strategy": "sorted"}


def storage_problem(config: Mapping) -> str | None:
    """What makes the storage settings unusable, naming the variable (None: nothing).
    create_app refuses to start on it: otherwise it would surface only at the first
    upload or download, as a 500."""
    kind = (config.get("STORAGE_BACKEND") or "local").lower()
    if kind not in STORAGE_BACKENDS:
        return f"STORAGE_BACKEND must be {' or '.join(STORAGE_BACKENDS)}, not {kind!r}"
    if kind == "s3" and not config.get("S3_BUCKET"):
        return "S3_BUCKET must be set when STORAGE_BACKEND=s3"
    return None


def from_environment(instance_path: str) -> dict:
    """Build the configuration mapping from the environment and the instance folder."""
    instance = Path(instance_path)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'rating.sqlite'}"
    if database_url.startswith("postgres://"):
        # Heroku-style URLs name a dialect SQLAlchemy 2 no longer accepts.
        database_url = "postgresql://" + database_url[len("postgres://"):]
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    broker_url = os.environ.get("CELERY_BROKER_URL") or f"sqla+sqlite:///{instance / 'celery-broker.sqlite'}"
    debug = os.environ.get("FLASK_DEBUG") in ("1", "true", "True")
    development = os.environ.get("RATING_ENV") == "development"
    secret_key = os.environ.get("SECRET_KEY")
    if not secret_key:
        # A stable key per instance folder keeps sessions valid across restarts of the
        # embedded setup; production must set SECRET_KEY (checked in create_app).
        key_file = instance / "secret_key"
        if key_file.exists():
            secret_key = key_file.read_text().strip()
        else:
            instance.mkdir(parents=True, exist_ok=True)
            secret_key = secrets.token_hex(32)
            key_file.write_text(secret_key)
            key_file.chmod(0o600)
    engine_options: dict = {"pool_pre_ping": True}
    if database_url.startswith("sqlite"):
        # SQLite is shared by the web server, worker and beat processes: wait for locks
        # instead of failing at once.
        engine_options["connect_args"] = {"timeout": 30}
    return {
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "STORAGE_DIR": os.environ.get("STORAGE_DIR") or str(instance / "storage"),
        # Where evidence, certificates and exports are kept: `local` (STORAGE_DIR, a directory
        # every host shares) or `s3` (a bucket of S3 or an S3-compatible server such as MinIO;
        # credentials from boto3's usual environment, AWS_ACCESS_KEY_ID and
        # AWS_SECRET_ACCESS_KEY). With s3, STORAGE_DIR only holds files being written.
        "STORAGE_BACKEND": (os.environ.get("STORAGE_BACKEND") or "local").lower(),
        "S3_BUCKET": os.environ.get("S3_BUCKET") or None,
        "S3_PREFIX": os.environ.get("S3_PREFIX") or "",
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL") or None,
        "S3_REGION": os.environ.get("S3_REGION") or None,
        # A pooled PostgreSQL connection unused this long is pinged before use (rating/pool.py).
        "POOL_PING_IDLE_SECONDS": float(os.environ.get("POOL_PING_IDLE_SECONDS") or 5),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        # Logins one address may try (API.md: at least 60 a minute; a bureau office sits
        # behind one address). Flask-Limiter's notation.
        "LOGIN_LIMIT": os.environ.get("LOGIN_LIMIT") or "120 per minute",
        # Unset: the address `make run` serves (127.0.0.1:$PORT), so that certificates' QR codes
        # and emailed links point at the port actually served. `make run` passes it on to every
        # process it starts (honcho gives each process a PORT of its own).
        "PUBLIC_BASE_URL": (os.environ.get("PUBLIC_BASE_URL")
                            or f"http://127.0.0.1:{_int('PORT', 5000)}").rstrip("/"),
        "TIMEZONE": os.environ.get("TIMEZONE") or "Asia/Shanghai",
        # RATING_ENV=development (`make run`): admins may read the mail the local catcher
        # keeps (/dev/mail), and mail goes to that catcher unless MAIL_SERVER is given.
        "DEVELOPMENT": development,
        "MAIL_CATCHER_DIR": os.environ.get("MAIL_CATCHER_DIR") or str(instance / "mail"),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or ("127.0.0.1" if development else "localhost"),
        "MAIL_PORT": _int("MAIL_PORT", MAIL_CATCHER_PORT if development and not os.environ.get("MAIL_SERVER")
                          else 25),
        "MAIL_FROM": os.environ.get("MAIL_FROM") or "星级上云评定系统 <noreply@rating.localhost>",
        # Tries before a message the server refuses is marked failed. While the server
        # cannot be reached, a message waits (never failed for that), tried again after
        # MAIL_RETRY_SECONDS, doubling with each try, at most MAIL_RETRY_MAX_SECONDS apart.
        "MAIL_MAX_ATTEMPTS": _int("MAIL_MAX_ATTEMPTS", 8),
        "MAIL_RETRY_SECONDS": _int("MAIL_RETRY_SECONDS", 30),
        "MAIL_RETRY_MAX_SECONDS": _int("MAIL_RETRY_MAX_SECONDS", 3600),
        # A message claimed for sending this long ago whose worker died is sent again.
        "MAIL_SENDING_TIMEOUT_SECONDS": _int("MAIL_SENDING_TIMEOUT_SECONDS", 300),
        # A flush job starts this long after the first message that asked for it, and
        # takes every message written meanwhile (one SMTP connection, one claim, for a
        # second's mail rather than for each job's two or three messages).
        "MAIL_FLUSH_DELAY_SECONDS": float(os.environ.get("MAIL_FLUSH_DELAY_SECONDS") or 1.0),
        "MAX_UPLOAD_BYTES": _int("MAX_UPLOAD_BYTES", 20 * 1024 * 1024),
        # Every other request body (JSON, forms) is refused beyond this (413, unread); each
        # request's own limit is set by rating/body_size.py, MAX_CONTENT_LENGTH is the ceiling.
        "MAX_FORM_BYTES": _int("MAX_FORM_BYTES", 1024 * 1024),
        "MAX_CONTENT_LENGTH": _int("MAX_UPLOAD_BYTES", 20 * 1024 * 1024) + MULTIPART_MARGIN_BYTES,
        # The Ed25519 key that signs certificates (created on first use; every web and
        # worker host must share the same file) and the PDF flavour (PDF/A-3b archives well).
        "CERTIFICATE_KEY_FILE": os.environ.get("CERTIFICATE_KEY_FILE") or str(instance / "certificate-signing-key.pem"),
        "CERTIFICATE_PDF_VARIANT": os.environ.get("CERTIFICATE_PDF_VARIANT", "pdf/a-3b"),
        "TOKEN_LIFETIME": timedelta(hours=_int("TOKEN_LIFETIME_HOURS", 12)),
        # Failed logins (signin.authenticate): this many for one email from one client
        # address within LOGIN_LOCK_MINUTES pause that address for that email until the
        # window ends; LOGIN_ACCOUNT_FAILURE_LIMIT in a row, from anywhere, lock the account
        # for LOGIN_LOCK_MINUTES, except for browsers it logged in from within KNOWN_DEVICE_DAYS.
        "LOGIN_FAILURE_LIMIT": 10,
        "LOGIN_ACCOUNT_FAILURE_LIMIT": 50,
        "LOGIN_LOCK_MINUTES": 15,
        "KNOWN_DEVICE_DAYS": 365,
        # A password reset link works once, for this long.
        "PASSWORD_RESET_MINUTES": _int("PASSWORD_RESET_MINUTES", 60),
        "BABEL_DEFAULT_LOCALE": "zh_Hans_CN",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("TIMEZONE") or "Asia/Shanghai",
        "LANGUAGES": ("zh_Hans_CN", "en"),
        # Browsers then reach the site over HTTPS only, for a year (a proxy may send it instead).
        "STRICT_TRANSPORT_SECURITY": ("max-age=31536000; includeSubDomains"
                                      if os.environ.get("RATING_ENV") == "production" else None),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Secure cookies in production (HTTPS); SESSION_COOKIE_SECURE=0/1 overrides.
        "SESSION_COOKIE_SECURE": (os.environ.get("SESSION_COOKIE_SECURE") in ("1", "true")
                                  if os.environ.get("SESSION_COOKIE_SECURE") is not None
                                  else os.environ.get("RATING_ENV") == "production"),
        "WTF_CSRF_TIME_LIMIT": None,
        "DEBUG": debug,
        "CELERY": {
            "broker_url": broker_url,
            "task_ignore_result": True,
            # Task modules a worker imports besides workers.tasks, comma-separated: none in
            # production; the benchmarks add their floor task (bench/floor.py).
            "include": [name for name in (os.environ.get("CELERY_INCLUDE") or "").split(",") if name],
            # A job is acknowledged only when it finished: a killed worker's job returns
            # to the queue instead of vanishing.
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "task_soft_time_limit": 60,
            "task_time_limit": 90,
            "broker_connection_retry_on_startup": True,
            # A pool child that grew past this (KiB) after a task is replaced: certificate
            # rendering must not let a long-running worker creep upwards.
            "worker_max_memory_per_child": _int("WORKER_MAX_MEMORY_MB", 300) * 1024,
            "broker_transport_options": _transport_options(broker_url),
            # Email has its own queue: a backlog of messages (or an SMTP server that is
            # down and retried) never holds up scoring and routing. Workers consume both
            # (`-Q celery,mail`, as in the Procfile).
            "task_routes": {"workers.tasks.flush_outbox": {"queue": "mail"}},
            "timezone": os.environ.get("TIMEZONE") or "Asia/Shanghai",
            "beat_schedule": {
                "sweep-unscored": {
                    "task": "workers.tasks.sweep_unscored",
                    "schedule": float(os.environ.get("SWEEP_INTERVAL_SECONDS") or 30),
                },
                "route-waiting": {
                    "task": "workers.tasks.route_waiting",
                    "schedule": float(os.environ.get("SWEEP_INTERVAL_SECONDS") or 30),
                },
                "sweep-outbox": {
                    "task": "workers.tasks.sweep_outbox",
                    "schedule": float(os.environ.get("SWEEP_INTERVAL_SECONDS") or 30),
                },
                "sweep-certificates": {
                    "task": "workers.tasks.sweep_certificates",
                    "schedule": float(os.environ.get("SWEEP_INTERVAL_SECONDS") or 30),
                },
                "sweep-exports": {
                    "task": "workers.tasks.sweep_exports",
                    "schedule": float(os.environ.get("SWEEP_INTERVAL_SECONDS") or 30),
                },
                # Walks the storage tree (local) for temporaries at least an hour old:
                # every quarter of an hour is soon enough.
                "sweep-storage": {
                    "task": "workers.tasks.sweep_storage",
                    "schedule": 900.0,
                },
                "review-deadlines": {
                    "task": "workers.tasks.review_deadlines",
                    "schedule": 300.0,
                },
            },
        },
        "SWEEP_GRACE_SECONDS": _int("SWEEP_GRACE_SECONDS", 60),
        # On PostgreSQL a scoring job scores up to this many waiting submissions (its own first).
        "SCORING_BATCH_SIZE": max(1, _int("SCORING_BATCH_SIZE", 100)),
        "REVIEW_REMINDER_HOURS": _int("REVIEW_REMINDER_HOURS", 48),
        "EXPERTS_PER_APPLICATION": _int("EXPERTS_PER_APPLICATION", 3),
        # Experts disagree on an indicator when their spread exceeds this share of its maximum.
        "EXPERT_DISAGREEMENT_SHARE": float(os.environ.get("EXPERT_DISAGREEMENT_SHARE") or 0.3),
        # Ratings are valid this many years from the day they are granted (DOMAIN.md).
        "RATING_VALIDITY_YEARS": _int("RATING_VALIDITY_YEARS", 3),
        # Lists longer than this are built by a worker (progress bar, then download).
        "EXPORT_ASYNC_ROWS": _int("EXPORT_ASYNC_ROWS", 20_000),
        "EXPORT_TIME_LIMIT_SECONDS": _int("EXPORT_TIME_LIMIT_SECONDS", 1800),
        # A printable list longer than this is refused (an XLSX serves better).
        "EXPORT_PDF_MAX_ROWS": _int("EXPORT_PDF_MAX_ROWS", 5000),
    }
