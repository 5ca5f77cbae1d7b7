"""Ratings lists built by a worker: long CSV/XLSX exports and the printable PDF list.

The page that asks gets the file at once when the list is short (EXPORT_ASYNC_ROWS, by
default 20,000 rows, PDF lists always go to a worker); otherwise a job row is written in
the request's transaction, the task is published after the commit, the worker writes the
file to STORAGE_DIR/exports (temporary file, synced, renamed; with S3, uploaded once complete,
see `blobstore`) and moves the row to `done` only then, and the page polls the progress
until it offers the download. A job lost with its worker or the broker is published
again by the beat sweeper; building it again just writes the same file again.
"""
from __future__ import annotations

import json
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from rating import clock
from rating.errors import Forbidden, NotFound
from rating.extensions import db
from rating.models import ExportJob, ExportState, User
from rating.platform import blobstore, jobs
from rating.services.reporting import exports
from rating.permissions import is_official

FORMATS = ("csv", "xlsx", "pdf")
PROGRESS_EVERY = 2000
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "pdf": "application/pdf"}


def _official(user: User) -> None:
    if not is_official(user):
        raise Forbidden(_("只有主管部门人员可以导出名单。"))


def row_count(user: User, filters: dict) -> int:
    _official(user)
    query = exports.statement(user, filters).order_by(None)
    return db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def needs_worker(fmt: str, rows: int) -> bool:
    return fmt == "pdf" or rows > current_app.config["EXPORT_ASYNC_ROWS"]


def request(user: User, fmt: str, filters: dict, rows: int | None = None) -> ExportJob:
    """A job for the worker, in the caller's transaction; its task is published after the commit."""
    _official(user)
    job = ExportJob(user_id=user.id, format=fmt, filters=json.dumps(filters, sort_keys=True, ensure_ascii=False),
                    state=ExportState.queued, total_rows=rows, done_rows=0, attempts=0, created_at=clock.now())
    db.session.add(job)
    db.session.flush()
    jobs.later(jobs.BUILD_EXPORT, job.id)
    return job


def visible(user: User, job_id: int) -> ExportJob:
    job = db.session.get(ExportJob, job_id)
    if job is None or job.user_id != user.id:
        raise NotFound(_("未找到该导出任务。"))
    return job


def progress(job: ExportJob) -> dict:
    return {"state": job.state, "done": job.done_rows, "total": job.total_rows or 0, "failed": 0,
            "finished": job.state in (ExportState.done, ExportState.failed), "error": job.error}


def file_key(job: ExportJob) -> str:
    return f"exports/{job.file_name}"


def response(job: ExportJob):
    """The job's file streamed from storage, or None when it is gone."""
    return blobstore.backend().send(file_key(job), mimetype=MEDIA_TYPES[job.format], as_attachment=True,
                                    download_name=download_name(job))


def download_name(job: ExportJob) -> str:
    # The local date (TIMEZONE), as the lists downloaded at once are named.
    return f"ratings-{clock.local(job.created_at):%Y%m%d}-{job.id}.{job.format}"


def build(job_id: int) -> str:
    """Build the job's file (the worker's side); a job already done is left alone.

    A runner, not a use case: the claim commits before the long read (so the page and the
    sweeper see it running), progress goes over a connection of its own."""
    job = db.session.get(ExportJob, job_id)
    if job is None or job.state == ExportState.done:
        return "nothing to do"
    claimed = db.session.execute(
        update(ExportJob).where(ExportJob.id == job_id, ExportJob.state.in_((ExportState.queued, ExportState.running, ExportState.failed)))
        .values(state=ExportState.running, started_at=clock.now(), attempts=ExportJob.attempts + 1, done_rows=0, error=None)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if not claimed:
        return "nothing to do"
    db.session.refresh(job)
    user = db.session.get(User, job.user_id)
    filters = json.loads(job.filters)
    name = f"{job.id}.{job.format}"
    key, store = f"exports/{name}", blobstore.backend()
    try:
        with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            total = row_count(user, filters)
            _set(job.id, total_rows=total)
            rows = _counted(exports.rows(user, filters), job.id, total)
            if job.format == "csv":
                size = store.write(key, (chunk.encode("utf-8") for chunk in exports.csv_from_rows(rows)))
            elif job.format == "xlsx":
                with exports.xlsx_from_rows(rows) as out:
                    size = store.write(key, iter(lambda: out.read(1 << 20), b""))
            else:
                # A lazy import for start-up time: list_pdf loads WeasyPrint, which only a PDF export needs.
                from rating.services.reporting.list_pdf import render_list

                pdf = render_list(user, filters, list(rows), total)
                size = store.write(key, [pdf])
    except Exception as exc:
        db.session.rollback()
        _set(job.id, state=ExportState.failed, error=_("导出失败：%(reason)s", reason=type(exc).__name__),
             finished_at=clock.now())
        raise
    db.session.rollback()  # end the read transaction of the export
    _set(job.id, state=ExportState.done, file_name=name, size=size, done_rows=total,
         finished_at=clock.now())
    return f"{job.format} {total} rows"


def _set(job_id: int, **values) -> None:
    """Record progress on a connection of its own: the export's read stays open meanwhile."""
    with db.engine.begin() as connection:
        connection.execute(update(ExportJob.__table__).where(ExportJob.__table__.c.id == job_id).values(**values))


def _counted(rows, job_id: int, total: int):
    n = 0
    for row in rows:
        n += 1
        if n % PROGRESS_EVERY == 0:
            _set(job_id, done_rows=min(n, total))
        yield row


def waiting(grace: timedelta, limit: int = 100) -> list[int]:
    """Jobs a lost message or a dead worker left behind: queued past the grace period, or
    running past the task's time limit."""
    now = clock.now()
    stale_run = now - timedelta(seconds=current_app.config["EXPORT_TIME_LIMIT_SECONDS"]) - grace
    return list(db.session.execute(
        select(ExportJob.id).where(or_((ExportJob.state == ExportState.queued) & (ExportJob.created_at < now - grace),
                                       (ExportJob.state == ExportState.running) & (ExportJob.started_at < stale_run)),
                                   ExportJob.attempts < 5)
        .order_by(ExportJob.id).limit(limit)).scalars())


def remove_expired(days: int = 7) -> int:
    """Files of finished jobs older than `days` are removed (the rows stay as history)."""
    cutoff = clock.now() - timedelta(days=days)
    jobs = db.session.execute(select(ExportJob).where(ExportJob.state == ExportState.done,
                                                      ExportJob.finished_at < cutoff)).scalars().all()
    store = blobstore.backend()
    for job in jobs:
        store.delete(file_key(job))
        job.state, job.file_name, job.size = ExportState.failed, None, None
        job.error = _("文件已过期删除，请重新导出。")
    db.session.flush()
    return len(jobs)

