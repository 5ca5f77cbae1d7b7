"""Certificates: the PDF of a rating, rendered by a worker after the rating commits.

One row per rating (`Certificate`) and one file: `certificates/<number>/<sha256>.pdf`
under STORAGE_DIR (or that key in the S3 bucket, see `blobstore`). Rendering is
deterministic (same rating, same bytes), so a job that runs twice writes the same file.
A new file is written to a temporary name, synced and renamed (with S3: uploaded once
complete); the row moves to it in a guarded update; only then is an older file of the
same rating removed. A download therefore always finds the file its row names, and a
render that fails (disk full, storage unwritable, time limit) leaves the previous
certificate in place.

Requests to (re)render are rows, not only messages: after the commit a job is published
for each, and the beat sweeper republishes what a dead broker or worker left waiting.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from rating import clock
from rating.extensions import db
from rating.models import (
    Certificate,
    CertificateState,
    Enterprise,
    EntryOutcome,
    PublicityEntry,
    PublicityNotice,
    Rating,
    User,
)
from rating.platform import audit, blobstore, jobs, outbox
from rating.services.ratings import certificate_pdf

log = logging.getLogger(__name__)


def folder_key(certificate_no: str) -> str:
    return f"certificates/{certificate_no}"


def key_for(certificate_no: str, sha256: str) -> str:
    return f"{folder_key(certificate_no)}/{sha256}.pdf"


# --- requests ---------------------------------------------------------------------------

def request_render(rating: Rating, user: User | None = None) -> Certificate:
    """Ask for the rating's certificate (first render or a new generation), in the caller's
    transaction; the job is published after the commit."""
    certificate = db.session.get(Certificate, rating.id) if rating.id is not None else None
    if certificate is None:
        certificate = Certificate(rating_id=rating.id, state=CertificateState.pending, requested_generation=1,
                                  rendered_generation=0, requested_at=clock.now(),
                                  requested_by_id=user.id if user else None, attempts=0)
        db.session.add(certificate)
    else:
        db.session.execute(
            update(Certificate).where(Certificate.rating_id == rating.id)
            .values(requested_generation=Certificate.requested_generation + 1, requested_at=clock.now(),
                    requested_by_id=user.id if user else None,
                    state=func.coalesce(func.nullif(Certificate.state, CertificateState.failed),
                                        CertificateState.pending))
            .execution_options(synchronize_session=False))
        audit.append("certificate.request", "rating", rating.id, user.id if user else None,
                     certificate_no=rating.certificate_no)
    jobs.later(jobs.RENDER_CERTIFICATE, rating.id)
    return certificate


def request_for_notice(user: User, notice: PublicityNotice) -> int:
    """(Re)render the certificates of every rating a notice produced; returns how many."""
    ratings = notice_ratings(notice.id)
    for rating in ratings:
        request_render(rating, user)
    return len(ratings)


def notice_ratings(notice_id: int) -> list[Rating]:
    return list(db.session.execute(
        select(Rating).join(PublicityEntry, PublicityEntry.application_id == Rating.application_id)
        .where(PublicityEntry.notice_id == notice_id, PublicityEntry.outcome == EntryOutcome.rated)
        .order_by(Rating.id)
    ).scalars())


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    failed: int

    @property
    def finished(self) -> bool:
        return self.done + self.failed >= self.total

    def as_json(self) -> dict:
        return {"total": self.total, "done": self.done, "failed": self.failed, "finished": self.finished}


def notice_progress(notice_id: int) -> Progress:
    """How far the certificates of a notice are: the database is the progress, whichever
    workers do the rendering."""
    done = Certificate.rendered_generation >= Certificate.requested_generation
    row = db.session.execute(
        select(func.count(Certificate.rating_id),
               func.count(Certificate.rating_id).filter(done),
               func.count(Certificate.rating_id).filter(~done & (Certificate.state == CertificateState.failed)))
        .join(Rating, Rating.id == Certificate.rating_id)
        .join(PublicityEntry, PublicityEntry.application_id == Rating.application_id)
        .where(PublicityEntry.notice_id == notice_id, PublicityEntry.outcome == EntryOutcome.rated)
    ).one()
    return Progress(*row)


def waiting(grace: timedelta, limit: int = 1000) -> list[int]:
    """Ratings whose requested certificate has not been rendered for a while (their job was
    lost with a broker or a worker); failed ones wait for an official.

    Marks them as requested again now, as `scoring_runs.claim_unscored` does, and has a
    job published for each after the commit; while those wait in a long queue of renders
    the next sweeps must not publish them again (1,000 certificates behind a worker killed every
    few seconds became over 9,000 render jobs before this).
    """
    now = clock.now()
    ids = list(db.session.execute(
        select(Certificate.rating_id)
        .where(Certificate.rendered_generation < Certificate.requested_generation,
               Certificate.state == CertificateState.pending, Certificate.requested_at < now - grace)
        .order_by(Certificate.requested_at).limit(limit)
    ).scalars())
    if ids:
        db.session.execute(
            update(Certificate)
            .where(Certificate.rating_id.in_(ids),
                   Certificate.rendered_generation < Certificate.requested_generation)
            .values(requested_at=now)
            .execution_options(synchronize_session=False))
        for rating_id in ids:
            jobs.later(jobs.RENDER_CERTIFICATE, rating_id)
    return ids


# --- rendering --------------------------------------------------------------------------

def render(rating_id: int) -> str:
    """The worker's job: render, store and record the certificate if it is not current.
    A per-item runner, not a use case: it commits its own steps (each certificate is its
    own unit of work, and a failure is recorded before the task retries).

    Returns "rendered", "current" (nothing to do) or "missing". Raises on failure after
    recording it on the row, so that the task retries.
    """
    certificate = db.session.execute(
        select(Certificate).where(Certificate.rating_id == rating_id)
        .options(joinedload(Certificate.rating).joinedload(Rating.enterprise).joinedload(Enterprise.district),
                 joinedload(Certificate.rating).joinedload(Rating.batch))
        .execution_options(populate_existing=True)   # the row as it is now, not as this session last saw it
    ).scalar_one_or_none()
    if certificate is None:
        return "missing"
    rating, wanted = certificate.rating, certificate.requested_generation
    if certificate.rendered_generation >= wanted:
        current = key_for(rating.certificate_no, certificate.sha256) if certificate.sha256 else None
        if current and blobstore.backend().exists(current):
            db.session.rollback()
            return "current"
        # The row names a file that is gone (storage restored from an older copy, say):
        # render a new generation rather than leave a certificate nobody can download.
        log.error("certificate file of rating %s is missing; rendering it again", rating_id)
        wanted += 1
        db.session.execute(update(Certificate).where(Certificate.rating_id == rating_id)
                           .values(requested_generation=wanted).execution_options(synchronize_session=False))
        db.session.commit()
    try:
        document = certificate_pdf.render(rating)
        sha256, size = _store(rating.certificate_no, document.pdf)
    except Exception as exc:
        db.session.rollback()
        _record_failure(rating_id, wanted, exc)
        raise
    first, certificate_no = certificate.notified_at is None, rating.certificate_no
    moved = db.session.execute(
        update(Certificate)
        .where(Certificate.rating_id == rating_id, Certificate.rendered_generation < wanted)
        .values(state=CertificateState.ready, sha256=sha256, size=size, signature=document.signature,
                rendered_generation=wanted, rendered_at=clock.now(), last_error=None,
                attempts=Certificate.attempts + 1,
                notified_at=func.coalesce(Certificate.notified_at, clock.now()))
        .execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        # Someone else stored this generation (or a newer one) meanwhile.
        db.session.rollback()
        _remove_other_files(certificate_no, keep=_recorded_sha(rating_id))
        return "current"
    audit.append("certificate.ready", "rating", rating_id, None, certificate_no=certificate_no,
                 generation=wanted, sha256=sha256, size=size)
    if first:
        outbox.queue_certificate_ready(rating)
    db.session.commit()
    # The number as read before the commit: after it, reading the rating would load it again.
    _remove_other_files(certificate_no, keep=sha256)
    return "rendered"


def _store(certificate_no: str, data: bytes) -> tuple[str, int]:
    sha256 = hashlib.sha256(data).hexdigest()
    key, store = key_for(certificate_no, sha256), blobstore.backend()
    if store.size(key) != len(data):
        store.write(key, [data], prefix=".render-")
    return sha256, len(data)


def _recorded_sha(rating_id: int) -> str | None:
    return db.session.execute(select(Certificate.sha256).where(Certificate.rating_id == rating_id)).scalar()


def _remove_other_files(certificate_no: str, keep: str | None) -> None:
    """Old generations and files of renders that lost a race; temporary files of renders
    that died are left to `remove_stale_temporaries`."""
    if keep is None:
        return
    store, folder = blobstore.backend(), folder_key(certificate_no)
    try:
        for name in store.names(folder):
            if name.endswith(".pdf") and name != f"{keep}.pdf" and not name.startswith("."):
                store.delete(f"{folder}/{name}")
    except blobstore.StorageUnreachable as exc:
        # The row already names the new file; an old object left behind is only space.
        log.warning("old certificate files of %s not removed: %s", certificate_no, exc)


def remove_stale_temporaries(older_than: timedelta = blobstore.STALE_AFTER) -> int:
    return blobstore.remove_stale(blobstore.backend().temporaries("certificates", ".render-"), older_than)


def _record_failure(rating_id: int, generation: int, exc: BaseException) -> None:
    message = f"{exc.__class__.__name__}: {exc}"[:2000]
    log.warning("certificate of rating %s (generation %s) failed: %s", rating_id, generation, message)
    try:
        db.session.execute(
            update(Certificate)
            .where(Certificate.rating_id == rating_id, Certificate.rendered_generation < generation)
            .values(state=CertificateState.failed, last_error=message, attempts=Certificate.attempts + 1)
            .execution_options(synchronize_session=False))
        db.session.commit()
    except Exception:  # noqa: BLE001  (the database may be what failed; the retry records it)
        db.session.rollback()


# --- reading ----------------------------------------------------------------------------

def state_json(certificate: Certificate | None) -> dict:
    if certificate is None:
        return {"state": CertificateState.pending.value, "sha256": None, "size": None}
    return {"state": certificate.state, "sha256": certificate.sha256, "size": certificate.size}


def stored_key(rating: Rating) -> str | None:
    """The storage key of the rating's current certificate (None: none recorded yet)."""
    certificate = rating.certificate
    if certificate is None or certificate.sha256 is None:
        return None
    return key_for(rating.certificate_no, certificate.sha256)


def response(rating: Rating, **send_file_options):
    """The current certificate streamed from storage (send_file's options), or None."""
    key = stored_key(rating)
    return None if key is None else blobstore.backend().send(key, **send_file_options)


def matches_issued(rating: Rating, stream, limit: int = 5 * 1024 * 1024) -> bool | None:
    """Whether an uploaded file is byte-identical to the certificate we issued (None: we
    have not issued one yet)."""
    certificate = rating.certificate
    if certificate is None or certificate.sha256 is None:
        return None
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return False
        digest.update(chunk)
    return digest.hexdigest() == certificate.sha256
