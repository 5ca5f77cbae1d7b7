"""Officials' dashboard (their jurisdiction's figures and charts) and list downloads,
short ones at once, long ones and printable PDFs through a worker with a progress bar."""
from __future__ import annotations

from flask import (Blueprint, Response, current_app, flash, redirect, render_template, request, send_file,
                   stream_with_context, url_for)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from forms.ratings import DashboardFilterForm, ExportForm
from rating import clock
from rating.errors import ServiceError
from rating.extensions import db
from rating.models import ExportState
from rating.readonly import read_only
from rating.services.reporting import cache, dashboard, export_jobs, exports
from rating.permissions import staff_scope
from rating.views.common import official_required

bp = Blueprint("dashboard", __name__)



@bp.get("/dashboard")
@read_only
@official_required
def show():
    form = DashboardFilterForm(request.args)
    on, level = clock.today(), None
    status = 200
    if form.validate():
        on = form.on.data or on
        level = int(form.level.data) if form.level.data else None
    else:
        status = 422
    scope = staff_scope(current_user)
    return render_template("dashboard/show.html", form=form, scope=scope, figures=_figures(scope, on, level),
                           export_form=ExportForm(level=form.level.data if level else ""),
                           async_rows=current_app.config["EXPORT_ASYNC_ROWS"]), status


def _figures(scope, on, level: int | None) -> Markup:
    """The headline, charts and tables: the same for every official of the scope, and kept
    while the database is unchanged (`reporting.cache`: building and rendering them for
    each request does not meet the page budget, docs/benchmarks.md 2026-12-07/08)."""
    def render() -> Markup:
        board = dashboard.build(scope, on, level)
        bars, bar_max = dashboard.bars(board)
        series, line_max = dashboard.lines(board)
        # The output of our own template, autoescaped as every page is: already safe HTML.
        return Markup(render_template("dashboard/_figures.html", board=board, bars=bars,  # nosec B704
                                      bar_max=bar_max, series=series, line_max=line_max, chart=dashboard))

    return cache.kept(("dashboard", scope.code, on, level, clock.today(), str(get_locale())), render)


@bp.post("/exports")
@official_required
def start_export():
    form = ExportForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(str(message), "error")
        return redirect(url_for(".show"))
    fmt, filters = form.format.data, form.filters()
    try:
        rows = export_jobs.row_count(current_user, filters)
        if fmt == "pdf" and rows > current_app.config["EXPORT_PDF_MAX_ROWS"]:
            flash(_("打印版 PDF 最多 %(max)s 行（当前 %(n)s 行）：请缩小范围，或下载 Excel。",
                    max=current_app.config["EXPORT_PDF_MAX_ROWS"], n=rows), "error")
            return redirect(url_for(".show"))
        if export_jobs.needs_worker(fmt, rows):
            job = export_jobs.request(current_user, fmt, filters, rows)
            db.session.commit()
            return redirect(url_for(".export_page", job_id=job.id))
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for(".show"))
    name = f"ratings-{clock.today():%Y%m%d}.{fmt}"
    if fmt == "csv":
        return Response(stream_with_context(exports.csv_chunks(current_user, filters)),
                        headers={"Content-Disposition": f"attachment; filename={name}",
                                 "Content-Type": "text/csv; charset=utf-8"})
    return send_file(exports.xlsx_file(current_user, filters), mimetype=export_jobs.MEDIA_TYPES["xlsx"],
                     as_attachment=True, download_name=name)


@bp.get("/exports/<int:job_id>")
@official_required
def export_page(job_id: int):
    job = export_jobs.visible(current_user, job_id)
    return render_template("dashboard/export.html", job=job, progress=export_jobs.progress(job))


@bp.get("/exports/<int:job_id>/progress")
@official_required
def export_progress(job_id: int):
    job = export_jobs.visible(current_user, job_id)
    state = export_jobs.progress(job)
    if job.state == ExportState.done:
        state["download_url"] = url_for(".export_download", job_id=job.id)
    return state


@bp.get("/exports/<int:job_id>/download")
@official_required
def export_download(job_id: int):
    job = export_jobs.visible(current_user, job_id)
    if job.state != ExportState.done:
        flash(_("文件尚未生成完毕。"), "error")
        return redirect(url_for(".export_page", job_id=job.id))
    response = export_jobs.response(job)
    if response is None:
        flash(_("文件已不存在，请重新导出。"), "error")
        return redirect(url_for(".show"))
    return response
