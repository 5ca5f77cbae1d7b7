"""The certificate document: our Jinja template, rendered by WeasyPrint with a locked-down fetcher.

Nothing a firm typed can reach WeasyPrint as markup: Jinja escapes every value, and the
URL fetcher serves only files of our `static/` folder (stylesheet, emblem) and the QR
code image this module made for the document, refusing every other scheme, host and
path. (The QR code is a PNG: as inline SVG its one long path made WeasyPrint's Python
SVG code the slowest part of a certificate.)
Fonts come from fontconfig: our GB 2312 subset of Noto Serif CJK SC first (`fonts.py`),
the full Noto CJK for other characters and HanaMin for the rare ones Noto lacks (CJK
extension B and beyond), so a firm's name never loses a glyph.
"""
from __future__ import annotations

import functools
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import segno
from flask import current_app, render_template
from flask_babel import force_locale
from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from rating.extensions import db
from rating.models import Jurisdiction, Rating
from rating.platform import fonts
from rating.services.ratings import signing
from rating.services.reference import edition_of_batch

log = logging.getLogger(__name__)

ALLOWED_SUFFIXES = {".css", ".svg", ".png", ".jpg", ".jpeg"}
GENERATED = "_document"
CHINESE_DIGITS = "〇一二三四五六七八九"


class StaticOnlyFetcher(URLFetcher):
    """Serves `file:` URLs inside the static folder with an allowed suffix; refuses the rest.

    A refusal is an ordinary fetch error for WeasyPrint: the resource is skipped (and
    logged) and the page still renders.
    """

    def __init__(self, static_dir: Path) -> None:
        super().__init__(allowed_protocols=("file",), allow_redirects=False, timeout=1)
        self.static_dir = static_dir.resolve()
        # Images made for this document, served from a path that exists nowhere on disk.
        self.generated: dict[str, bytes] = {}

    def serve(self, name: str, png: bytes) -> str:
        """Serve `png` to this document as `name`; returns the URL to use relative to static/."""
        self.generated[(self.static_dir / GENERATED / name).as_uri()] = png
        return f"{GENERATED}/{name}"

    def fetch(self, url, headers=None):
        if url in self.generated:
            return URLFetcherResponse(url, self.generated[url], {"Content-Type": "image/png"})
        path = self._static_path(url)
        if path is None:
            log.warning("certificate render refused to fetch %r", url[:200])
            raise ValueError(f"resource not allowed in certificates: {url[:200]}")
        return super().fetch(path.as_uri(), headers)

    def _static_path(self, url: str) -> Path | None:
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost") or parts.query:
            return None
        try:
            path = Path(unquote(parts.path)).resolve()
        except (OSError, ValueError):
            return None
        if not path.is_relative_to(self.static_dir) or path.suffix.lower() not in ALLOWED_SUFFIXES:
            return None
        return path if path.is_file() else None


@dataclass(frozen=True)
class Document:
    pdf: bytes
    signature: str
    payload: str


def static_dir() -> Path:
    return Path(current_app.static_folder)


def chinese_date(day) -> str:
    """2024年6月1日 with Chinese numerals, as certificates write it: 二〇二四年六月一日."""
    def number(n: int) -> str:
        if n < 10:
            return CHINESE_DIGITS[n]
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else CHINESE_DIGITS[tens]) + "十" + (CHINESE_DIGITS[ones] if ones else "")

    year = "".join(CHINESE_DIGITS[int(d)] for d in str(day.year))
    return f"{year}年{number(day.month)}月{number(day.day)}日"


def issuers(rating: Rating) -> list[str]:
    """The issuing bodies: the province's department, and the city's bureau where the city
    had the final say (from the guide edition)."""
    district = _division(rating.certified_district_code)     # the county that certified, wherever the firm is now
    bodies = [f"{_division(district.province_code).name}工业和信息化厅"]
    if rating.batch is not None:
        final = edition_of_batch(rating.batch.edition_code).levels[rating.level].final_stage
        if final == "city" and district.city_code is not None:
            bodies.append(f"{_division(district.city_code).name}工业和信息化局")
    return bodies


def _division(code: str) -> Jurisdiction:
    return db.session.get(Jurisdiction, code)


def qr_png(url: str) -> bytes:
    """One pixel per module: the page scales it to 32 mm without smoothing (`image-rendering:
    pixelated`), so the edges stay sharp in print and on screen, and the PNG is ~40 times
    smaller to write and to decode than at 6 pixels a module."""
    # A fixed mask: any of the eight is valid, and choosing the best costs more than the rest of the code.
    qr = segno.make(url, error="m", mask=1)
    out = io.BytesIO()
    qr.save(out, kind="png", scale=1, border=2, dark="#1a1a1a")
    return out.getvalue()


# What WeasyPrint's user-agent stylesheet gives the elements the certificate template uses,
# and nothing else. Its full sheet (250 rules for every HTML element) is matched against
# each element of each document, a noticeable part of a certificate. The PDF renders the same
# pixels with either (tests/ratings/test_certificate_pdf.py checks the template keeps
# to these elements).
UA_ELEMENTS = frozenset({"html", "head", "meta", "title", "body", "main", "div", "p", "h1", "span", "img"})
UA_CSS = """
head, meta, title, [hidden] { display: none }
html, body, main, div, p, h1 { display: block }
body { margin: 8px }
p { margin: 1em 0 }
h1 { font-size: 2em; font-weight: bold; margin: .67em 0; bookmark-level: 1; bookmark-label: content(text);
     hyphens: manual; break-after: avoid; break-inside: avoid }
img { overflow: hidden }
"""


@functools.cache
def _ua_stylesheets() -> tuple[CSS, ...]:
    return (CSS(string=UA_CSS),)


class CertificateHTML(HTML):
    """A certificate's HTML, styled by `UA_CSS` in place of WeasyPrint's full user-agent
    stylesheet (the sheet is parsed once per process and shared, read-only)."""

    def _ua_stylesheets(self, forms=False):
        return list(_ua_stylesheets())


_stylesheets: dict[tuple, CSS] = {}


def stylesheet(static: Path) -> CSS:
    """The certificate's stylesheet (static/css/certificate.css), parsed once per process
    (and again when the file changes): parsing it anew was a noticeable part of each certificate. A
    parsed sheet is read-only and shared by the documents of every thread; it is parsed
    with a fetcher of its own, so it keeps no document's generated images alive."""
    path = static / "css" / "certificate.css"
    stat = path.stat()
    key = (os.getpid(), str(path), stat.st_mtime_ns, stat.st_size)
    sheet = _stylesheets.get(key)
    if sheet is None:
        sheet = CSS(filename=str(path), url_fetcher=StaticOnlyFetcher(static),
                    font_config=fonts.font_configuration(fonts.FONTS_DIR))
        _stylesheets.clear()
        _stylesheets[key] = sheet
    return sheet


def render(rating: Rating, fetcher: StaticOnlyFetcher | None = None) -> Document:
    fetcher = fetcher or StaticOnlyFetcher(static_dir())
    html, text, signature = certificate_html(rating, fetcher)
    variant = current_app.config["CERTIFICATE_PDF_VARIANT"] or None
    pdf = CertificateHTML(string=html, base_url=static_dir().as_uri() + "/", url_fetcher=fetcher).write_pdf(
        stylesheets=[stylesheet(static_dir())],
        pdf_variant=variant, custom_metadata=True, font_config=fonts.font_configuration(fonts.FONTS_DIR))
    return Document(pdf=pdf, signature=signature, payload=text)


def certificate_html(rating: Rating, fetcher: StaticOnlyFetcher) -> tuple[str, str, str]:
    """The certificate's HTML, its signed payload and the signature; the QR code image is
    served to the document by `fetcher`."""
    text = signing.rating_payload(rating)
    signature = signing.sign(text)
    verify_url = f"{current_app.config['PUBLIC_BASE_URL']}/verify/{rating.certificate_no}?sig={signature}"
    level_name = f"{CHINESE_DIGITS[rating.level]}星级上云企业"
    if rating.batch is not None:
        level_name = edition_of_batch(rating.batch.edition_code).levels[rating.level].name
    qr_src = fetcher.serve("qr.png", qr_png(verify_url))
    with force_locale("zh_Hans_CN"):
        html = render_template(
            "certificates/certificate.html", rating=rating, enterprise=rating.enterprise,
            province=_division(_division(rating.certified_district_code).province_code), level_name=level_name,
            issuers=issuers(rating), granted=chinese_date(rating.granted_on),
            valid_until=chinese_date(rating.valid_until), qr_src=qr_src, payload=text,
            signature=signature, signature_keys=(signing.PDF_PAYLOAD_KEY, signing.PDF_SIGNATURE_KEY))
    return html, text, signature
