"""Sending what the outbox holds: claim the due messages, send them in batches over one
SMTP connection, mark each one sent, waiting for its next attempt, or failed."""
from __future__ import annotations

import smtplib
from collections.abc import Callable
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from flask import current_app
from sqlalchemy import select, update

from rating import clock
from rating.extensions import db
from rating.models import EmailKind, OutboxEmail, OutboxStatus, User
from rating.platform.outbox import RESET_LINK_PLACEHOLDER

_OUTBOX = OutboxEmail.__table__


class DeliveryFailed(Exception):
    """SMTP refused or could not be reached; the task retries."""


def _claim(limit: int) -> list:
    """Mark up to `limit` pending messages that are due as being sent by us; concurrent
    flushes skip them.

    Due is one range of the (status, next_attempt_at) index, never-tried messages first
    (NOT_YET_TRIED), then failed ones whose next attempt has come, soonest first: however
    many wait out a mail server outage, a claim reads only what it takes. The sweeper
    returns messages stuck in `sending` (a worker died mid-send) to `pending`.
    """
    now, c = clock.now(), _OUTBOX.c
    waiting = (select(c.id)
               .where(c.status == OutboxStatus.pending, c.next_attempt_at <= now)
               .order_by(c.next_attempt_at, c.id).limit(limit)
               .with_for_update(skip_locked=True, key_share=True))
    rows = db.session.execute(
        update(_OUTBOX)
        .where(c.id.in_(waiting.scalar_subquery()))
        .values(status=OutboxStatus.sending, claimed_at=now, attempts=c.attempts + 1)
        .returning(c.id, c.kind, c.to_address, c.subject, c.body, c.attempts)
    ).all()
    db.session.commit()  # part of `flush`, a runner: the claim is seen by other flushes before sending
    return sorted(rows, key=lambda r: r.id)


def retry_delay(attempts: int) -> timedelta:
    """How long a message waits after its `attempts`-th try failed: MAIL_RETRY_SECONDS,
    doubling with each try, at most MAIL_RETRY_MAX_SECONDS."""
    config = current_app.config
    return timedelta(seconds=min(config["MAIL_RETRY_SECONDS"] * 2 ** min(max(attempts - 1, 0), 30),
                                 config["MAIL_RETRY_MAX_SECONDS"]))


def flush(batch_size: int = 100, more_waiting: Callable[[], object] | None = None) -> dict[str, int]:
    """Send every message that is due, a batch at a time over one SMTP connection.

    `more_waiting` is called (once) when a claim comes back full: there is more than this
    job's first batch, and the worker publishes a second flush job so that an idle worker
    process helps with the rest (the claim skips what another flush holds).

    A message that fails waits for its next attempt (`retry_delay`), so that while the
    server is down each write's flush tries only what is new or due, not the whole
    backlog again. A refusal of the recipient counts towards MAIL_MAX_ATTEMPTS, after which
    the message is `failed`; a server that cannot be reached fails no message, however
    long it lasts.

    Returns counts by outcome. Raises DeliveryFailed (after recording it on the messages)
    when the server could not be reached, so the task retries with backoff.

    A runner, not a use case: each batch is its own unit of work and commits here.
    """
    counts = {"sent": 0, "failed": 0, "retry": 0}
    unreachable: Exception | None = None
    while True:
        claimed = _claim(batch_size)
        if not claimed:
            break
        if more_waiting is not None and len(claimed) == batch_size:
            more_waiting()
            more_waiting = None
        bodies, unsendable = _with_reset_links(claimed)
        sent, errors = _send_batch([row for row in claimed if row.id not in unsendable], bodies)
        now = clock.now()
        if unsendable:
            db.session.execute(update(_OUTBOX).where(_OUTBOX.c.id.in_(unsendable)).values(
                status=OutboxStatus.failed, last_error="not sent: no active account has this address any more"))
            counts["failed"] += len(unsendable)
        if sent:
            db.session.execute(update(_OUTBOX).where(_OUTBOX.c.id.in_(sent))
                               .values(status=OutboxStatus.sent, sent_at=now, last_error=None))
            counts["sent"] += len(sent)
        limit = current_app.config["MAIL_MAX_ATTEMPTS"]
        # The messages a server that could not be reached left unsent share one error:
        # one statement per number of tries (each waits by its own), not one per message.
        unsent: dict[tuple[int, str], list[int]] = {}
        for row in claimed:
            error = errors.get(row.id)
            if error is None:
                continue
            if error.startswith("refused"):
                final = row.attempts >= limit
                db.session.execute(update(OutboxEmail).where(OutboxEmail.id == row.id).values(
                    status=OutboxStatus.failed if final else OutboxStatus.pending, last_error=error[:2000],
                    next_attempt_at=now + retry_delay(row.attempts)))
                counts["failed" if final else "retry"] += 1
            else:
                unsent.setdefault((row.attempts, error[:2000]), []).append(row.id)
                counts["retry"] += 1
        for (attempts, error), ids in unsent.items():
            db.session.execute(update(OutboxEmail).where(OutboxEmail.id.in_(ids)).values(
                status=OutboxStatus.pending, last_error=error, next_attempt_at=now + retry_delay(attempts))
                .execution_options(synchronize_session=False))
        db.session.commit()
        if len(sent) < len(claimed) and any(not e.startswith("refused") for e in errors.values()):
            unreachable = DeliveryFailed(next(iter(errors.values())))
            break
        if len(claimed) < batch_size:
            break
    if unreachable is not None and counts["retry"]:
        raise unreachable
    return counts


# Makes a password-reset link for a user row (id, email, password_hash). The accounts area
# registers it (create_app): the mailer stands below the use cases and does not import them.
_reset_link: dict[str, Callable[[object], str]] = {}


def make_reset_links_with(maker: Callable[[object], str]) -> None:
    _reset_link["maker"] = maker


def _with_reset_links(claimed: list) -> tuple[dict[int, str], set[int]]:
    """The bodies of the claimed reset emails with their links (id → body), made now with
    a fresh token for the active account of the address (one query for the batch), and
    the ids of those whose address no active account has any more: they are not sent.

    A fresh token, not one kept from the request: it is stored nowhere, works for
    PASSWORD_RESET_MINUTES from when it is sent (a retry after an outage still carries a
    working link), and works even if the password changed since the request, as the
    reader of a reset email expects of its link (it lands in the same mailbox any new
    request would, so it gives no one more than a new request would)."""
    waiting = [row for row in claimed if row.kind in (EmailKind.password_reset, EmailKind.invitation)
               and RESET_LINK_PLACEHOLDER in row.body]
    if not waiting:
        return {}, set()
    users = {row.email: row for row in db.session.execute(
        select(User.id, User.email, User.password_hash)
        .where(User.email.in_(sorted({row.to_address for row in waiting})), User.active.is_(True))).all()}
    bodies, unsendable = {}, set()
    reset_link = _reset_link["maker"]   # a KeyError here: create_app registers it
    for row in waiting:
        user = users.get(row.to_address)
        if user is None:
            unsendable.add(row.id)
            continue
        head, _, tail = row.body.rpartition(RESET_LINK_PLACEHOLDER)   # the template's, after any name
        bodies[row.id] = head + reset_link(user) + tail
    return bodies, unsendable


def _send_batch(claimed: list, bodies: dict[int, str] | None = None) -> tuple[list[int], dict[int, str]]:
    """(ids sent, id → error). A recipient the server refuses fails alone ("refused: …");
    a server that cannot be reached fails the rest of the batch. `bodies`: what to send
    instead of the stored body (reset emails with their links)."""
    config = current_app.config
    sent: list[int] = []
    errors: dict[int, str] = {}
    if not claimed:
        return sent, errors
    bodies = bodies or {}
    envelope_from = parseaddr(config["MAIL_FROM"])[1]
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=15) as smtp:
            for row in claimed:
                try:
                    message = _message(row.id, row.to_address, row.subject, bodies.get(row.id, row.body))
                    smtp.send_message(message, envelope_from, [row.to_address])
                    sent.append(row.id)
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                    errors[row.id] = f"refused: {type(exc).__name__}: {exc}"
    except (OSError, smtplib.SMTPException) as exc:
        for row in claimed:
            if row.id not in sent and row.id not in errors:
                errors[row.id] = f"{type(exc).__name__}: {exc}"
    return sent, errors


def _message(outbox_id: int, to_address: str, subject: str, body: str) -> EmailMessage:
    """What is sent for an outbox row: UTF-8 text in base64 (the text's own line ends, as
    written), the subject and the sender's name RFC 2047-encoded. `send_message` writes the
    headers with CRLF, and switches to SMTPUTF8 for an address that is not ASCII."""
    sender = current_app.config["MAIL_FROM"]
    message = EmailMessage(policy=policy.default)
    message["From"], message["To"], message["Subject"] = sender, to_address, subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = f"<outbox-{outbox_id}@{sender.rpartition('@')[2].rstrip('>') or 'localhost'}>"
    message.set_content(body, charset="utf-8", cte="base64")
    return message
