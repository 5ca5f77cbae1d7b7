"""The outbox: emails to firms on every status change, to reviewers on assignment, reminder
and overdue, queued in the caller's transaction (the sending is in `mailer`).

`queue_*` writes the message into the outbox inside the caller's transaction, rendered
in the recipient's language, so a change and its email commit (or roll back) together.
After the commit a flush job is published (through `jobs`: at most one per web request
or worker task, and none while another is still queued); a worker claims what waits,
sends it in batches over one SMTP connection and marks each message; the beat sweeper
publishes a flush for messages a dead broker or worker left behind. Delivery is at least once; the Message-ID
is stable per message so receiving servers can drop a repeat.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale, get_translations
import redis
from jinja2 import Environment, select_autoescape
from redis.exceptions import RedisError
from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.orm import Session

from rating import clock
from rating.extensions import db
from rating.models import (
    Application, ApplicationStatus, ClaimStatus, EmailKind, Enterprise, OutboxEmail, OutboxStatus, Stage, User)
from rating.permissions import unconfirmed_claim
from rating.platform import jobs

DEFAULT_LOCALE = "zh_Hans_CN"


def _render(kind: EmailKind, locale: str, **context) -> tuple[str, str]:
    """Subject (the template's first line) and body, in `locale`. An email reads only what
    it is given, not the request's context (Flask's context processors would load the
    requesting user again for each message)."""
    rendered = _environment(locale).get_template(f"email/{kind}.txt").render(
        base_url=current_app.config["PUBLIC_BASE_URL"], **context)
    subject, _, body = rendered.strip().partition("\n")
    return subject.strip(), body.strip() + "\n"


def _environment(locale: str) -> Environment:
    """The email templates' Jinja environment for one language, made once per process:
    its translations are bound to it, so a message does not switch the context's locale
    and look its catalogue up again for each string (two thirds of a message's rendering)."""
    app = current_app._get_current_object()
    environments = app.extensions.setdefault("rating_email_environments", {})
    environment = environments.get(locale)
    if environment is None:
        with force_locale(locale):
            translations = get_translations()
        # Escaped as Flask's environment escapes: HTML and XML templates, not these .txt ones.
        environment = Environment(loader=app.jinja_env.loader, extensions=["jinja2.ext.i18n"],
                                  autoescape=select_autoescape(("html", "htm", "xml", "xhtml", "svg")),
                                  auto_reload=app.jinja_env.auto_reload)
        environment.install_gettext_translations(translations, newstyle=True)

        def label(kind):
            return lambda value: translations.gettext(kind(value).msgid) if value else ""

        environment.filters["status_label"] = label(ApplicationStatus)
        environment.filters["stage_label"] = label(Stage)
        environments[locale] = environment
    return environment


# Built once: a scoring job writes two or three messages (a Core insert on the table: the
# ORM's unit of work and its bulk insert both cost more per message than this).
_OUTBOX = OutboxEmail.__table__
_INSERT_MESSAGE = insert(_OUTBOX)
_PENDING = "rating_outbox_pending"


def _queue(kind: EmailKind, to_address: str, locale: str | None, outbox_application_id: int | None, /,
           **context) -> None:
    """Render the message now; it is written just before the transaction commits, with
    every other message of the transaction in one statement (like the audit chain)."""
    locale = locale or DEFAULT_LOCALE
    subject, body = _render(kind, locale, **context)
    db.session.info.setdefault(_PENDING, []).append({
        "application_id": outbox_application_id, "kind": kind, "to_address": to_address, "locale": locale,
        "subject": subject, "body": body, "status": OutboxStatus.pending,
    })
    jobs.later(jobs.FLUSH_OUTBOX)


# Before the audit chain's own before_commit hook (insert=True), which locks the chain's
# head as the transaction's last lock (audit.py): the outbox rows, with the key-share
# locks their foreign keys take, are written before it.
@event.listens_for(Session, "before_commit", insert=True)
def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.execute(_INSERT_MESSAGE, pending)


def _firm_recipients(contact: str | None, users: list[tuple[str | None, str | None]]) -> list[tuple[str, str | None]]:
    """The firm's active users and its contact address, once each, with the language to
    write in (the contact address takes the first user's, when it is not a user's own)."""
    recipients = {email.lower(): locale for email, locale in users if email}
    if contact:
        recipients.setdefault(contact.lower(), users[0][1] if users else None)
    return sorted(recipients.items())


_A, _F, _U = Application.__table__.c, Enterprise.__table__.c, User.__table__.c
_FIRM_RECIPIENTS = (
    select(_A.id, _F.name, _A.target_level, _F.email, _U.email, _U.locale)
    .select_from(Application.__table__.join(Enterprise.__table__, _F.id == _A.enterprise_id)
                 .outerjoin(User.__table__, (_U.enterprise_id == _F.id) & _U.active.is_(True)
                            & ~unconfirmed_claim(_U.id)))
    .where(_A.id.in_(bindparam("application_ids", expanding=True)))
    .order_by(_A.id, _U.id)
)


def queue_status_change(application_id: int, to_status: str, stage: str | None, comment: str | None = None) -> None:
    """Tell the firm where its application stands now: its contact address and its users,
    each in their language (one query for all of it)."""
    queue_status_changes([(application_id, to_status, stage, comment)])


def queue_status_changes(changes: list[tuple[int, str, str | None, str | None]]) -> None:
    """`queue_status_change` for several applications (application id, status, stage,
    comment), with one query for all their recipients."""
    if not changes:
        return
    rows = db.session.execute(_FIRM_RECIPIENTS, {"application_ids": [change[0] for change in changes]}).all()
    firms: dict[int, list] = {}
    for row in rows:
        firms.setdefault(row[0], []).append(row)
    for application_id, to_status, stage, comment in changes:
        firm = firms.get(application_id)
        if not firm:
            continue
        name, level, contact = firm[0][1], firm[0][2], firm[0][3]
        for address, locale in _firm_recipients(contact, [(email, locale) for *_, email, locale in firm]):
            _queue(EmailKind.status_changed, address, locale, application_id, application_id=application_id,
                   enterprise_name=name, level=level, status=to_status, stage=stage, comment=comment)


def queue_certificate_ready(rating) -> None:
    """Tell the firm its certificate can be downloaded (its contact address and its users)."""
    rows = db.session.execute(
        select(Enterprise.name, Enterprise.email, User.email, User.locale)
        .select_from(Enterprise)
        # Not to a claimant of an imported firm whose claim the county has not confirmed.
        .outerjoin(User, (User.enterprise_id == Enterprise.id) & User.active.is_(True) & ~unconfirmed_claim(User.id))
        .where(Enterprise.id == rating.enterprise_id).order_by(User.id)
    ).all()
    if not rows:
        return
    name, contact = rows[0][0], rows[0][1]
    for address, locale in _firm_recipients(contact, [(email, locale) for *_, email, locale in rows]):
        _queue(EmailKind.certificate_ready, address, locale, rating.application_id, enterprise_name=name,
               level=rating.level, certificate_no=rating.certificate_no)


# Where a reset email's link goes. The outbox keeps the message with this in its place:
# the sender makes the link (a fresh token for the account the address belongs to) as it
# sends, and the stored body never holds one (README, "Accounts").
RESET_LINK_PLACEHOLDER = "[password-reset-link]"


def queue_password_reset(user: User, minutes: int) -> None:
    """A reset email to the account's own address only, its link made when it is sent."""
    _queue(EmailKind.password_reset, user.email, user.locale, None, name=user.name, link=RESET_LINK_PLACEHOLDER,
           minutes=minutes)


def queue_invitation(user: User, inviter_name: str, minutes: int) -> None:
    """A new account's invitation: a set-password link made when it is sent, as a reset's is
    (it works once, for `minutes`), in the language of the account."""
    _queue(EmailKind.invitation, user.email, user.locale, None, name=user.name, inviter=inviter_name,
           link=RESET_LINK_PLACEHOLDER, minutes=minutes)


def queue_claim_decision(claim) -> None:
    """Tell a claimant of an imported firm how the county decided, at the account's address."""
    _queue(EmailKind.claim_decided, claim.user.email, claim.user.locale, None, enterprise_name=claim.name,
           uscc=claim.enterprise.uscc, approved=claim.status == ClaimStatus.approved, comment=claim.comment)


def queue_reviewer(kind: EmailKind, reviewer_id: int, application_id: int, due_at: datetime,
                   known: tuple[int, str | None, str] | None = None, reviewer=None) -> None:
    """Assignment, reminder or overdue notice to a reviewer. `known`: (level, stage, firm
    name), and `reviewer` (with email, locale and name), when the caller has them loaded already."""
    if reviewer is None:
        reviewer = db.session.get(User, reviewer_id)
    if known is None:
        known = tuple(db.session.execute(
            select(Application.target_level, Application.stage, Enterprise.name)
            .join(Enterprise, Enterprise.id == Application.enterprise_id).where(Application.id == application_id)
        ).one())
    level, stage, firm = known
    _queue(kind, reviewer.email, reviewer.locale, application_id, application_id=application_id,
           reviewer_name=reviewer.name, enterprise_name=firm, level=level, stage=stage,
           due_at=clock.local(due_at))


@event.listens_for(Session, "after_transaction_end")
def _forget_without_commit(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


# Set while a flush job is queued and has not started. The job clears it before it claims
# anything, so mail committed before a writer finds the flag set is mail that job will
# claim; a writer that finds it clear publishes a new job. One flush job per burst of
# writers instead of one per task or request. The flag expires, so a job the broker lost
# holds up nothing for long (and the beat sweeper publishes for mail left waiting).
FLUSH_FLAG = "rating:outbox:flush-requested"
FLUSH_FLAG_SECONDS = 30


def _flag_store():
    """A Redis client on the broker's Redis (one per process), or None on another broker."""
    app = current_app._get_current_object()
    if "rating_flush_flag" not in app.extensions:
        url = app.config["CELERY"]["broker_url"]
        client = None
        if url.startswith(("redis://", "rediss://")):
            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        app.extensions["rating_flush_flag"] = client
    return app.extensions["rating_flush_flag"]


def request_flush() -> None:
    """Have the waiting mail sent: publish a flush job unless one is queued already (how
    `jobs` publishes the flush a commit with mail asks for)."""
    store = _flag_store()
    if store is not None:
        try:
            if not store.set(FLUSH_FLAG, "1", nx=True, ex=FLUSH_FLAG_SECONDS):
                return
        except RedisError:
            store = None  # publish regardless (softly: the broker is this Redis)
    # Delayed: the flag stays set until the job starts, so the mail of every change in
    # between rides on it (without Redis there is no flag, and each commit publishes one).
    delay = current_app.config["MAIL_FLUSH_DELAY_SECONDS"] if store is not None else None
    if not jobs.publish(jobs.FLUSH_OUTBOX, countdown=delay) and store is not None:
        _clear_flag(store)


jobs.publish_with(jobs.FLUSH_OUTBOX, request_flush)


def flush_starting() -> None:
    """Called by the flush job before it claims: later mail needs a job of its own."""
    store = _flag_store()
    if store is not None:
        _clear_flag(store)


def _clear_flag(store) -> None:
    try:
        store.delete(FLUSH_FLAG)
    except RedisError:
        pass  # it expires by itself


def stranded(grace: timedelta, stuck_after: timedelta = timedelta(minutes=5), limit: int = 500) -> list[int]:
    """Messages due for longer than the grace period, after returning those stuck in
    `sending` (their worker died mid-send) to `pending`: a flush should be published for
    them (a message waiting for its next attempt is not stranded until then)."""
    now = clock.now()
    db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.status == OutboxStatus.sending, OutboxEmail.claimed_at < now - stuck_after)
        .values(status=OutboxStatus.pending)
        .execution_options(synchronize_session=False)
    )
    return list(db.session.execute(
        select(OutboxEmail.id)
        .where(OutboxEmail.status == OutboxStatus.pending,
               OutboxEmail.next_attempt_at < now - grace, OutboxEmail.created_at < now - grace)
        .order_by(OutboxEmail.id).limit(limit)
    ).scalars())


def log_for(application_id: int) -> list[OutboxEmail]:
    return list(db.session.execute(
        select(OutboxEmail).where(OutboxEmail.application_id == application_id).order_by(OutboxEmail.id)
    ).scalars())
