"""What was lost and what was done twice, counted from the database, the storage folder
and the SMTP server (in an app context of the app under test)."""
from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from rating.extensions import db
from rating.models import (
    Application,
    ApplicationScore,
    AuditEntry,
    Certificate,
    CloudService,
    Enterprise,
    OutboxEmail,
    Payment,
    Rating,
    ReviewAssignment,
    StatusChange,
    User,
)
from tests.support import disk


def fresh_view() -> None:
    """End the test's own transaction, to see what the other processes committed (after a
    database restart the rollback itself reports the lost connection; the pool replaces it)."""
    try:
        db.session.rollback()
    except DBAPIError:
        db.session.remove()


def wait_until(predicate, timeout: float, describe, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        fresh_view()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f}s: {describe()}")
        time.sleep(interval)


def status_counts(ids) -> Counter:
    rows = db.session.execute(select(Application.status).where(Application.id.in_(list(ids)))).scalars()
    return Counter(rows)


def mail_settled() -> bool:
    waiting = db.session.execute(select(func.count()).select_from(OutboxEmail)
                                 .where(OutboxEmail.status != "sent")).scalar_one()
    return waiting == 0


def certificates_settled(rating_ids) -> bool:
    rows = db.session.execute(select(Certificate.state, Certificate.rendered_generation,
                                     Certificate.requested_generation)
                              .where(Certificate.rating_id.in_(list(rating_ids)))).all()
    return len(rows) == len(rating_ids) and all(s == "ready" and r == q for s, r, q in rows)


def _per(column, *where) -> Counter:
    rows = db.session.execute(select(column, func.count()).where(*where).group_by(column)).all()
    return Counter(dict(rows))


def _recipients() -> dict[int, int]:
    """How many addresses a firm's email goes to (its contact and its active users, once each)."""
    firms = dict(db.session.execute(select(Enterprise.id, Enterprise.email)).all())
    users = db.session.execute(select(User.enterprise_id, User.email)
                               .where(User.enterprise_id.is_not(None), User.active.is_(True))).all()
    addresses: dict[int, set] = {firm: {email.lower()} if email else set() for firm, email in firms.items()}
    for firm, email in users:
        addresses.setdefault(firm, set()).add(email.lower())
    return {firm: len(found) for firm, found in addresses.items()}


def _difference(expected: Counter, actual: Counter) -> tuple[int, int]:
    keys = set(expected) | set(actual)
    missing = sum(max(0, expected[k] - actual[k]) for k in keys)
    extra = sum(max(0, actual[k] - expected[k]) for k in keys)
    return missing, extra


def ledger(application_ids, rating_ids=(), smtp_messages=None) -> dict:
    """What the database, storage and SMTP server hold for these applications and ratings:
    `lost` and `duplicates` must both be 0 whatever faults were injected."""
    fresh_view()
    ids = list(application_ids)
    statuses = dict(db.session.execute(select(Application.id, Application.status)
                                       .where(Application.id.in_(ids))).all())
    firm_of = dict(db.session.execute(select(Application.id, Application.enterprise_id)
                                      .where(Application.id.in_(ids))).all())
    recipients = _recipients()
    scores = _per(ApplicationScore.application_id, ApplicationScore.application_id.in_(ids))
    scored = _per(StatusChange.application_id, StatusChange.application_id.in_(ids),
                  StatusChange.action == "scored")
    audited = _per(AuditEntry.object_id, AuditEntry.action == "application.scored",
                   AuditEntry.object_id.in_([str(i) for i in ids]))
    unscored = [i for i in ids if statuses.get(i) in (None, "draft", "submitted") or not scores[i]]
    # A firm is mailed once per change of status or stage; a reviewer once per assignment.
    changes = db.session.execute(
        select(StatusChange.application_id, StatusChange.from_status, StatusChange.from_stage,
               StatusChange.to_status, StatusChange.to_stage)
        .where(StatusChange.application_id.in_(ids))).all()
    expected_status_mail = Counter()
    for app_id, from_status, from_stage, to_status, to_stage in changes:
        if from_status is not None and (from_status, from_stage) != (to_status, to_stage):
            expected_status_mail[app_id] += recipients.get(firm_of[app_id], 0)
    status_mail = _per(OutboxEmail.application_id, OutboxEmail.application_id.in_(ids),
                       OutboxEmail.kind == "status_changed")
    assignments = _per(ReviewAssignment.application_id, ReviewAssignment.application_id.in_(ids))
    assigned_mail = _per(OutboxEmail.application_id, OutboxEmail.application_id.in_(ids),
                         OutboxEmail.kind == "assigned")
    open_assignment = set(db.session.execute(select(ReviewAssignment.application_id).where(
        ReviewAssignment.application_id.in_(ids), ReviewAssignment.closed_at.is_(None))).scalars())
    unassigned = [i for i in ids if statuses.get(i) == "in_review" and i not in open_assignment]
    status_missing, status_extra = _difference(expected_status_mail, status_mail)
    assigned_missing, assigned_extra = _difference(assignments, assigned_mail)
    result = {
        "applications": len(ids),
        "by_status": dict(Counter(statuses.values())),
        "unscored": len(unscored),
        "in_review_unassigned": len(unassigned),
        "score_rows_beyond_one": sum(n - 1 for n in scores.values() if n > 1),
        "scored_history_beyond_one": sum(n - 1 for n in scored.values() if n > 1),
        "scored_audit_beyond_one": sum(n - 1 for n in audited.values() if n > 1),
        "status_emails_missing": status_missing, "status_emails_extra": status_extra,
        "assignment_emails_missing": assigned_missing, "assignment_emails_extra": assigned_extra,
    }
    lost = result["unscored"] + result["in_review_unassigned"] + status_missing + assigned_missing
    duplicates = (result["score_rows_beyond_one"] + result["scored_history_beyond_one"]
                  + result["scored_audit_beyond_one"] + status_extra + assigned_extra)
    if rating_ids:
        certs = certificate_ledger(list(rating_ids), recipients)
        result["certificates"] = certs
        lost += certs["not_ready"] + certs["files_missing"] + certs["emails_missing"]
        duplicates += certs["ready_audit_beyond_one"] + certs["extra_files"] + certs["emails_extra"]
    # The email of these applications (the firm's, its reviewers', its certificate's).
    mine = dict(db.session.execute(select(OutboxEmail.id, OutboxEmail.status)
                                   .where(OutboxEmail.application_id.in_(ids))).all())
    result["outbox"] = dict(Counter(mine.values()))
    if smtp_messages is not None:
        delivered = Counter(i for i in map(outbox_id, smtp_messages) if i in mine)
        result["smtp_delivered"] = sum(delivered.values())
        result["smtp_never_delivered"] = sum(1 for i, status in mine.items()
                                             if status == "sent" and i not in delivered)
        result["smtp_repeats"] = sum(n - 1 for n in delivered.values() if n > 1)
        lost += result["smtp_never_delivered"]
    result["lost"], result["duplicates"] = lost, duplicates
    return result


def certificate_ledger(rating_ids: list[int], recipients: dict[int, int]) -> dict:
    rows = db.session.execute(
        select(Rating.id, Rating.certificate_no, Rating.enterprise_id, Rating.application_id,
               Certificate.state, Certificate.sha256, Certificate.rendered_generation,
               Certificate.requested_generation)
        .join(Certificate, Certificate.rating_id == Rating.id)
        .where(Rating.id.in_(rating_ids))).all()
    ready_audit = _per(AuditEntry.object_id, AuditEntry.action == "certificate.ready",
                       AuditEntry.object_id.in_([str(i) for i in rating_ids]))
    ready_mail = _per(OutboxEmail.application_id, OutboxEmail.kind == "certificate_ready",
                      OutboxEmail.application_id.in_([r.application_id for r in rows]))
    expected_mail = Counter({r.application_id: recipients.get(r.enterprise_id, 0) for r in rows})
    files_missing = extra_files = temporaries = 0
    for row in rows:
        folder = disk.certificate_folder(row.certificate_no)
        names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        temporaries += sum(1 for n in names if n.startswith("."))
        pdfs = [n for n in names if not n.startswith(".")]
        if row.sha256 is None or f"{row.sha256}.pdf" not in pdfs:
            files_missing += 1
        extra_files += len([n for n in pdfs if n != f"{row.sha256}.pdf"])
    missing_mail, extra_mail = _difference(expected_mail, ready_mail)
    return {
        "ratings": len(rating_ids),
        "without_certificate_row": len(rating_ids) - len(rows),
        "not_ready": len(rating_ids) - sum(1 for r in rows if r.state == "ready"
                                           and r.rendered_generation == r.requested_generation),
        "generations_beyond_one": sum(r.requested_generation - 1 for r in rows),
        "ready_audit_beyond_one": sum(n - 1 for n in ready_audit.values() if n > 1),
        "files_missing": files_missing, "extra_files": extra_files,
        "temporaries_left": temporaries,
        "emails_missing": missing_mail, "emails_extra": extra_mail,
    }


def outbox_id(message) -> int | None:
    value = message.get("Message-ID", "")
    if value.startswith("<outbox-"):
        return int(value[len("<outbox-"):].split("@", 1)[0])
    return None


def application_shape(application_id: int) -> dict:
    """What a complete application has, to tell a half-written one."""
    services = db.session.execute(select(func.count()).select_from(CloudService)
                                  .where(CloudService.application_id == application_id)).scalar_one()
    payments = db.session.execute(select(func.count()).select_from(Payment).join(CloudService)
                                  .where(CloudService.application_id == application_id)).scalar_one()
    history = Counter(db.session.execute(select(StatusChange.action)
                                         .where(StatusChange.application_id == application_id)).scalars())
    return {"services": services, "payments": payments, "history": dict(history)}
