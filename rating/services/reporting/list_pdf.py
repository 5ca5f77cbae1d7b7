"""The printable ratings list (WeasyPrint): A4 landscape, the list's title and scope on every
page's header, page numbers in the footer, the table header repeated on each page."""
from __future__ import annotations

from flask import render_template
from flask_babel import get_locale
from weasyprint import HTML

from rating import clock
from rating.models import User
from rating.platform import fonts
from rating.services.reporting import exports
from rating.services.ratings.certificate_pdf import StaticOnlyFetcher, static_dir
from rating.permissions import staff_scope


def render_list(user: User, filters: dict, rows: list[tuple], total: int) -> bytes:
    scope = staff_scope(user)
    lang = "en" if str(get_locale()).startswith("en") else "zh-CN"
    html = render_template("ratings/list_pdf.html", lang=lang, rows=rows, total=total, scope=scope, filters=filters,
                           columns=[header for header, _width in exports.columns()], today=clock.today(),
                           generated_at=clock.now())
    return HTML(string=html, base_url=static_dir().as_uri() + "/", url_fetcher=StaticOnlyFetcher(static_dir())
                ).write_pdf(font_config=fonts.font_configuration(fonts.FONTS_DIR))
