"""Emails: to firms on every status change, to reviewers on assignment, reminder and overdue.

`queue_*` writes the message into the outbox inside the caller's transaction, rendered
in the recipient's language, so a change and its email commit (or roll back) together.
After the commit the message ids are published to a worker (`deliver`), which claims,
sends and marks each message; the beat sweeper re-publishes messages a dead broker or
worker left behind. Delivery is at least once; the Message-ID is stable per message so
receiving servers can drop a repeat.
"""
from __future__ import annotations

import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from rating import clock
from rating.extensions import db
from rating.models import Application, Enterprise, OutboxEmail, User

DEFAULT_LOCALE = "zh_Hans_CN"
_SESSION_KEY = "rating_outbox_ids"


def _render(kind: str, locale: str, **context) -> tuple[str, str]:
    """Subject (the template's first line) and body, in `locale`."""
    with force_locale(locale):
        rendered = render_template(f"email/{kind}.txt", base_url=current_app.config["PUBLIC_BASE_URL"], **context)
    subject, _, body = rendered.strip().partition("\n")
    return subject.strip(), body.strip() + "\n"


def _queue(kind: str, to_address: str, locale: str | None, outbox_application_id: int | None, /,
           **context) -> OutboxEmail:
    locale = locale or DEFAULT_LOCALE
    subject, body = _render(kind, locale, **context)
    message = OutboxEmail(application_id=outbox_application_id, kind=kind, to_address=to_address, locale=locale,
                          subject=subject, body=body, status="pending")
    db.session.add(message)
    db.session.flush()
    db.session.info.setdefault(_SESSION_KEY, []).append(message.id)
    return message


def _firm_recipients(enterprise_id: int) -> list[tuple[str, str | None]]:
    """The firm's contact address and its users' addresses, each with a language."""
    contact = db.session.execute(select(Enterprise.email).where(Enterprise.id == enterprise_id)).scalar_one()
    users = db.session.execute(
        select(User.email, User.locale).where(User.enterprise_id == enterprise_id, User.active.is_(True))
    ).all()
    recipients = {email.lower(): locale for email, locale in users}
    recipients.setdefault(contact.lower(), users[0].locale if users else None)
    return sorted(recipients.items())


def queue_status_change(application_id: int, to_status: str, stage: str | None, comment: str | None = None) -> None:
    """Tell the firm where its application stands now."""
    row = db.session.execute(
        select(Application.enterprise_id, Application.target_level, Enterprise.name)
        .join(Enterprise, Enterprise.id == Application.enterprise_id)
        .where(Application.id == application_id)
    ).one()
    for address, locale in _firm_recipients(row.enterprise_id):
        _queue("status_changed", address, locale, application_id, application_id=application_id,
               enterprise_name=row.name, level=row.target_level, status=to_status, stage=stage, comment=comment)


def queue_reviewer(kind: str, reviewer_id: int, application_id: int, due_at: datetime) -> None:
    """Assignment, reminder or overdue notice to a reviewer."""
    reviewer = db.session.get(User, reviewer_id)
    row = db.session.execute(
        select(Application.target_level, Application.stage, Enterprise.name)
        .join(Enterprise, Enterprise.id == Application.enterprise_id).where(Application.id == application_id)
    ).one()
    _queue(kind, reviewer.email, reviewer.locale, application_id, application_id=application_id,
           reviewer_name=reviewer.name, enterprise_name=row.name, level=row.target_level, stage=row.stage,
           due_at=clock.local(due_at))


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    ids = session.info.pop(_SESSION_KEY, None)
    if ids:
        from workers.tasks import deliver_email, publish_soft

        for outbox_id in ids:
            publish_soft(deliver_email, outbox_id)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_SESSION_KEY, None)


class DeliveryFailed(Exception):
    """SMTP refused or could not be reached; the task retries."""


def deliver(outbox_id: int, stale_after: timedelta = timedelta(minutes=5)) -> str:
    """Claim, send and mark one message. A message already sent, or being sent, is left alone."""
    now = clock.now()
    claimed = db.session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == outbox_id,
               or_(OutboxEmail.status == "pending",
                   (OutboxEmail.status == "sending") & (OutboxEmail.claimed_at < now - stale_after)))
        .values(status="sending", claimed_at=now, attempts=OutboxEmail.attempts + 1)
        .returning(OutboxEmail.to_address, OutboxEmail.subject, OutboxEmail.body, OutboxEmail.attempts)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    db.session.commit()
    if claimed is None:
        return "skipped"
    try:
        _send(outbox_id, claimed.to_address, claimed.subject, claimed.body)
    except (OSError, smtplib.SMTPException) as exc:
        final = claimed.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]
        db.session.execute(
            update(OutboxEmail).where(OutboxEmail.id == outbox_id)
            .values(status="failed" if final else "pending", last_error=f"{type(exc).__name__}: {exc}"[:2000])
        )
        db.session.commit()
        if final:
            return "failed"
        raise DeliveryFailed(str(exc)) from exc
    db.session.execute(update(OutboxEmail).where(OutboxEmail.id == outbox_id)
                       .values(status="sent", sent_at=clock.now(), last_error=None))
    db.session.commit()
    return "sent"


def _send(outbox_id: int, to_address: str, subject: str, body: str) -> None:
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to_address
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = f"<outbox-{outbox_id}@{config['MAIL_FROM'].rpartition('@')[2] or 'localhost'}>"
    message.set_content(body, charset="utf-8")
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=15) as smtp:
        smtp.send_message(message)


def stranded(grace: timedelta, limit: int = 500) -> list[int]:
    """Messages still pending after the grace period, or stuck in sending: to be published again."""
    now = clock.now()
    ids = list(db.session.execute(
        select(OutboxEmail.id)
        .where(or_((OutboxEmail.status == "pending") & (OutboxEmail.created_at < now - grace),
                   (OutboxEmail.status == "sending") & (OutboxEmail.claimed_at < now - timedelta(minutes=5))))
        .order_by(OutboxEmail.id).limit(limit)
    ).scalars())
    db.session.rollback()
    return ids


def log_for(application_id: int) -> list[OutboxEmail]:
    return list(db.session.execute(
        select(OutboxEmail).where(OutboxEmail.application_id == application_id).order_by(OutboxEmail.id)
    ).scalars())


