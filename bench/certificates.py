"""Certificates (issue #4). One certificate rendered, stored and recorded in-process
(`certificates.render`: template, WeasyPrint with PDF/A-3b, file written and synced, row,
audit, the firm's email), against WeasyPrint rendering a one-line page of two Chinese
characters in the same font (our GB 2312 subset "Rating Serif SC", through the same
font configuration), and, for comparison with earlier runs, in the full Noto Serif CJK
SC on WeasyPrint's default path; all three interleaved in the same run. Then 1,000
certificates rendered by one worker with 2 prefork processes, against 1,000 no-op tasks
drained by the same worker in the same run, with the RSS of each pool child sampled
every 0.2 s. The firms' emails go to a local SMTP server through the same worker.

Two more references, interleaved with the rest, say where the time goes: the document
alone (`certificate_pdf.render`: QR code, template, WeasyPrint; no file, no row), and a
plain page of the certificate's own lines of text, each a paragraph in the same font on
WeasyPrint's default path (no stylesheet, images, bold, PDF/A): what any page carrying
this certificate's words costs at least."""
from __future__ import annotations

import html
import itertools
import re
import statistics
import threading
import time
from datetime import timedelta

import psutil
from sqlalchemy import func, select, text

from bench.common import percentile, servers
from bench.floor import FLOOR_ENV
from bench.scoring_pipeline import _drain, noop_floor
from tests.support.servers import worker

FLOOR_HTML = '<p style="font-family: &quot;Rating Serif SC&quot;">星级</p>'
NOTO_FLOOR_HTML = '<p style="font-family: &quot;Noto Serif CJK SC&quot;">星级</p>'
COUNTIES = ("320402", "320404", "320411")
_SERIALS = itertools.count(20_000)


def seed_ratings(app, count: int, pending: bool) -> list[int]:
    """Firms with a 3★ rating granted today, inserted in bulk; with `pending`, each with
    its Certificate row waiting for a render (as a granted rating leaves it)."""
    from rating import clock
    from rating.extensions import db
    from rating.models import Batch, Certificate, CertificateState, Enterprise, Rating
    from rating.services.publicity.publicity import add_years
    from rating.rules.uscc import uscc_from_serial
    from tests.support.factories import make_batch

    with app.app_context():
        batch = db.session.execute(select(Batch)).scalars().first() or make_batch("js-2024")
        today, now, ids = clock.today(), clock.now(), []
        for start in range(0, count, 500):
            ratings = []
            for n in range(start, min(count, start + 500)):
                serial, county = next(_SERIALS), COUNTIES[n % len(COUNTIES)]
                firm = Enterprise(name=f"常州云上精密机械{serial}有限公司",
                                  uscc=uscc_from_serial(serial, division=county), district_code=county,
                                  industry="C", scale="small", contact_name="王工",
                                  contact_phone="0519-1234567", email=f"c{serial}@bench.test")
                ratings.append(Rating(enterprise=firm, level=3, year=today.year, batch_id=batch.id,
                                      certificate_no=f"JS-{today.year}-{batch.number}-3-{serial:06d}",
                                      granted_on=today, valid_until=add_years(today, 3) - timedelta(days=1),
                                      status="valid", reward_yuan=50_000, disbursement="due"))
            db.session.add_all(ratings)
            db.session.flush()
            if pending:
                db.session.add_all(Certificate(rating_id=r.id, state=CertificateState.pending,
                                               requested_generation=1, rendered_generation=0,
                                               requested_at=now, attempts=0) for r in ratings)
            db.session.commit()
            ids.extend(r.id for r in ratings)
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return ids


def floor_pdf() -> bytes:
    from weasyprint import HTML

    from rating.platform import fonts

    return HTML(string=FLOOR_HTML).write_pdf(font_config=fonts.font_configuration(fonts.FONTS_DIR))


def noto_floor_pdf() -> bytes:
    from weasyprint import HTML

    return HTML(string=NOTO_FLOOR_HTML).write_pdf()


def single(app, ids: list[int], warmup: int) -> dict:
    """Each rating's first certificate (request, commit, then the timed render), interleaved
    with the floor; the first `warmup` pairs are not counted."""
    from rating.extensions import db
    from rating.models import Certificate, Rating
    from rating.services.ratings import certificates

    times: dict = {_timed_render: [], _timed_floor: [], _timed_noto_floor: [], _timed_document: [],
                   _timed_plain_page: []}
    sizes: list[int] = []
    with app.app_context():
        if not fonts_built():
            raise SystemExit("the certificate fonts are not built: run `make fonts` first")
        for n, rating_id in enumerate(ids):
            certificates.request_render(db.session.get(Rating, rating_id))
            db.session.commit()
            order = list(times)
            for task in order[n % len(order):] + order[:n % len(order)]:
                seconds = task(rating_id)
                if n >= warmup:
                    times[task].append(seconds)
            sizes.append(db.session.get(Certificate, rating_id).size)
        floor_kb = round(len(floor_pdf()) / 1024, 1)
    ours, floor, noto = times[_timed_render], times[_timed_floor], times[_timed_noto_floor]
    document, plain = times[_timed_document], times[_timed_plain_page]
    median = statistics.median
    return {"runs": len(ours), "render_store_record": _ms(ours), "floor_two_characters": _ms(floor),
            "ratio_median_to_floor": round(median(ours) / median(floor), 2),
            "document_alone": _ms(document), "ratio_document_to_floor": round(median(document) / median(floor), 2),
            "store_record_ms": round((median(ours) - median(document)) * 1000, 1),
            "plain_page_of_its_text": _ms(plain), "ratio_plain_page_to_floor": round(median(plain) / median(floor), 2),
            "floor_two_characters_full_noto": _ms(noto),
            "ratio_median_to_full_noto_floor": round(statistics.median(ours) / statistics.median(noto), 2),
            "pdf_kb": {"median": round(statistics.median(sizes) / 1024, 1),
                       "max": round(max(sizes) / 1024, 1)},
            "floor_pdf_kb": floor_kb}


def fonts_built() -> bool:
    from rating.platform.doctor import certificate_fonts_built

    return certificate_fonts_built()


def _timed_render(rating_id: int) -> float:
    from rating.services.ratings import certificates

    started = time.perf_counter()
    result = certificates.render(rating_id)
    seconds = time.perf_counter() - started
    assert result == "rendered", result
    return seconds


def _timed_document(rating_id: int) -> float:
    """The PDF alone, for a rating loaded beforehand (as `certificates.render` has it)."""
    from rating.services.ratings import certificate_pdf

    rating = _loaded_rating(rating_id)
    started = time.perf_counter()
    certificate_pdf.render(rating)
    return time.perf_counter() - started


def _timed_plain_page(rating_id: int) -> float:
    from weasyprint import HTML

    from rating.platform import fonts

    page = plain_page_html(_loaded_rating(rating_id))
    started = time.perf_counter()
    HTML(string=page).write_pdf(font_config=fonts.font_configuration(fonts.FONTS_DIR))
    return time.perf_counter() - started


_BLOCKS = re.compile(r"<(p|h1)\b[^>]*>(.*?)</\1>", re.S)


def plain_page_html(rating) -> str:
    """The certificate's lines of text (every paragraph and heading of its HTML), each a
    plain paragraph in the certificate's first font."""
    from rating.services.ratings import certificate_pdf

    page, _text, _signature = certificate_pdf.certificate_html(
        rating, certificate_pdf.StaticOnlyFetcher(certificate_pdf.static_dir()))
    lines = [html.unescape(re.sub(r"<[^>]+>", "", inner)).strip() for _tag, inner in _BLOCKS.findall(page)]
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
    return f'<div style="font-family: &quot;Rating Serif SC&quot;">{paragraphs}</div>'


def _loaded_rating(rating_id: int):
    from sqlalchemy.orm import joinedload

    from rating.extensions import db
    from rating.models import Enterprise, Rating
    from rating.services.ratings.certificate_pdf import issuers

    rating = db.session.execute(
        select(Rating).where(Rating.id == rating_id)
        .options(joinedload(Rating.enterprise).joinedload(Enterprise.district), joinedload(Rating.batch))
    ).scalar_one()
    issuers(rating)   # the jurisdictions it names, loaded into the session
    return rating


def _timed_floor(_rating_id: int) -> float:
    started = time.perf_counter()
    floor_pdf()
    return time.perf_counter() - started


def _timed_noto_floor(_rating_id: int) -> float:
    started = time.perf_counter()
    noto_floor_pdf()
    return time.perf_counter() - started


def _ms(values: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(values) * 1000, 1),
            "p95_ms": round(percentile(values, 95) * 1000, 1)}


class ChildMemory:
    """Samples the RSS of the worker's pool children (the children of the Celery main
    process under the supervisor) in a thread; keeps the peak per child pid."""

    def __init__(self, supervisor_pid: int, interval: float = 0.2) -> None:
        self.supervisor, self.interval = psutil.Process(supervisor_pid), interval
        self.peaks: dict[int, int] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "ChildMemory":
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopping.set()
        self.thread.join()

    def _sample(self) -> None:
        while not self.stopping.is_set():
            for child in self._pool_children():
                try:
                    rss = child.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
                self.peaks[child.pid] = max(self.peaks.get(child.pid, 0), rss)
            self.stopping.wait(self.interval)

    def _pool_children(self) -> list[psutil.Process]:
        try:
            return [child for main in self.supervisor.children() for child in main.children()]
        except psutil.NoSuchProcess:
            return []

    def summary(self) -> dict:
        """A child that grows past worker_max_memory_per_child is replaced after its task,
        so more children than 2 means replacements."""
        peaks = [p / 2**20 for p in self.peaks.values()]
        return {"pool_children_seen": len(peaks), "peak_rss_mb_max": round(max(peaks)),
                "peak_rss_mb_median": round(statistics.median(peaks))}


def _wait_ready(app, ids: list[int], timeout: float) -> None:
    from rating.extensions import db
    from rating.models import Certificate, CertificateState

    deadline, done = time.monotonic() + timeout, 0
    with app.app_context():
        while time.monotonic() < deadline:
            done = db.session.execute(select(func.count()).select_from(Certificate).where(
                Certificate.rating_id.in_(ids), Certificate.state == CertificateState.ready)).scalar_one()
            db.session.rollback()
            if done >= len(ids):
                return
            time.sleep(0.2)
    raise TimeoutError(f"only {done} of {len(ids)} certificates ready")


def batch(app, env, redis, instance, ids: list[int]) -> dict:
    from workers.tasks import render_certificate

    proc = worker({**env, **FLOOR_ENV}, instance, concurrency=2)
    try:
        with app.app_context():
            _drain(redis, 600)          # jobs the in-process part published (now no-ops)
            noop_seconds = noop_floor(redis, len(ids))
            with ChildMemory(proc.process.pid) as memory:
                started = time.perf_counter()
                for rating_id in ids:
                    render_certificate.delay(rating_id)
                _wait_ready(app, ids, 1800)
                render_seconds = time.perf_counter() - started
            _drain(redis, 600)          # let the emails go out before stopping
    finally:
        proc.stop()
    noop_rate, render_rate = len(ids) / noop_seconds, len(ids) / render_seconds
    return {"certificates": len(ids), "noop_tasks_per_s": round(noop_rate, 1),
            "certificates_per_s": round(render_rate, 1), "ratio_to_noop": round(render_rate / noop_rate, 3),
            "worker_max_memory_per_child_mb": app.config["CELERY"]["worker_max_memory_per_child"] // 1024,
            **memory.summary()}


# What leaving one feature out of the page changes: name -> (edit of the HTML, edit of the CSS, PDF variant).
_WITHOUT = {
    "the whole page": (None, None, "pdf/a-3b"),
    "without the seal": (lambda h: re.sub(r'<img class="seal"[^>]*>', "", h), None, "pdf/a-3b"),
    "without the QR image": (lambda h: re.sub(r'<img src="_document/[^>]*>', "", h), None, "pdf/a-3b"),
    "without bold": (None, lambda c: c.replace("font-weight: bold", "font-weight: normal"), "pdf/a-3b"),
    "without PDF/A": (None, None, None),
    "without absolute positions": (None, lambda c: c.replace("absolute", "static"), "pdf/a-3b"),
    "without letter spacing": (None, lambda c: re.sub(r"letter-spacing:[^;]*;", "", c), "pdf/a-3b"),
    "without the border": (None, lambda c: re.sub(r"border: [^;]*double[^;]*;", "", c), "pdf/a-3b"),
    "without the metadata tags": (lambda h: re.sub(r"<meta name=[^>]*>", "", h), None, "pdf/a-3b"),
}


def parts(app, rating_id: int, rounds: int = 100, warmup: int = 5) -> dict:
    """WeasyPrint's part of one certificate (its HTML made once: no QR code, no template),
    whole and with one feature left out at a time, all in turns; each variant's saving is
    the whole page's median minus its own."""
    from weasyprint import CSS

    from rating.platform import fonts
    from rating.services.ratings import certificate_pdf

    with app.app_context():
        rating = _loaded_rating(rating_id)
        made = certificate_pdf.StaticOnlyFetcher(certificate_pdf.static_dir())
        page, _text, _signature = certificate_pdf.certificate_html(rating, made)
        static = certificate_pdf.static_dir()
        base_url, font_config = static.as_uri() + "/", fonts.font_configuration(fonts.FONTS_DIR)
        css = (static / "css" / "certificate.css").read_text()
        variants = {}
        for name, (edit_html, edit_css, pdf_variant) in _WITHOUT.items():
            sheet = CSS(string=edit_css(css) if edit_css else css, base_url=base_url, font_config=font_config)
            variants[name] = (edit_html(page) if edit_html else page, sheet, pdf_variant)
        times: dict[str, list[float]] = {name: [] for name in variants}
        for n in range(warmup + rounds):
            for name, (html_text, sheet, pdf_variant) in variants.items():
                fetcher = certificate_pdf.StaticOnlyFetcher(static)
                fetcher.generated.update(made.generated)
                started = time.perf_counter()
                certificate_pdf.CertificateHTML(string=html_text, base_url=base_url, url_fetcher=fetcher).write_pdf(
                    stylesheets=[sheet], pdf_variant=pdf_variant, custom_metadata=True, font_config=font_config)
                if n >= warmup:
                    times[name].append(time.perf_counter() - started)
    whole = statistics.median(times["the whole page"])
    return {name: {"p50_ms": round(statistics.median(values) * 1000, 1),
                   "saves_ms": round((whole - statistics.median(values)) * 1000, 1)}
            for name, values in times.items()}


def run_parts() -> dict:
    with servers("certificate-parts") as run:
        [rating_id] = seed_ratings(run.app, 1, pending=False)
        return parts(run.app, rating_id)


def run(single_runs: int = 40, warmup: int = 5, count: int = 1000) -> dict:
    with servers("certificates", smtp=True) as run:
        one = single(run.app, seed_ratings(run.app, warmup + single_runs, pending=False), warmup)
        many = batch(run.app, run.env, run.redis, run.instance, seed_ratings(run.app, count, pending=True))
        emails = len(run.smtp.messages)
    return {"single": one, "batch": {**many, "emails_received": emails}}
