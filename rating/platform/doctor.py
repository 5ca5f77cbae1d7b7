"""Environment checks for `flask doctor` and worker start-up."""
from __future__ import annotations

import ctypes.util
import subprocess
import time
from collections.abc import Iterator

from flask import current_app
from sqlalchemy import text

from rating.extensions import db
from rating.platform import blobstore, fonts


def harfbuzz_subset_available() -> bool:
    """WeasyPrint subsets fonts with HarfBuzz only when libharfbuzz-subset is present;
    otherwise it silently falls back to fontTools, many times slower on CJK fonts
    (docs/benchmarks.md has the figures)."""
    if ctypes.util.find_library("harfbuzz-subset"):
        return True
    try:
        ctypes.CDLL("libharfbuzz-subset.so.0")
        return True
    except OSError:
        return False


def _font_families(pattern: str) -> list[str]:
    """The font families fontconfig has for a pattern (`:lang=zh`, `:charset=20001`)."""
    try:
        out = subprocess.run(["fc-list", pattern, "family"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return sorted({line.split(",")[0].strip() for line in out.stdout.splitlines() if line.strip()})


def cjk_fonts() -> list[str]:
    return _font_families(":lang=zh")


# A character of CJK extension B that Noto CJK lacks: some firm names need such glyphs.
RARE_CHARACTER = 0x20001


def rare_character_fonts() -> list[str]:
    return _font_families(f":charset={RARE_CHARACTER:x}")


def certificate_fonts_built() -> bool:
    return len(fonts.built_files(fonts.FONTS_DIR)) == len(fonts.SOURCES)


def run_checks() -> Iterator[tuple[str, bool, str]]:
    try:
        db.session.execute(text("SELECT 1"))
        yield "database", True, db.engine.url.render_as_string(hide_password=True)
    except Exception as exc:  # noqa: BLE001
        yield "database", False, f"cannot connect: {exc.__class__.__name__}: {exc}"
    try:
        ok, detail = blobstore.backend().check()
        yield "storage", ok, f"{current_app.config.get('STORAGE_BACKEND') or 'local'}: {detail}"
    except Exception as exc:  # noqa: BLE001
        yield "storage", False, f"unusable: {exc.__class__.__name__}: {exc}"
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
        yield "broker", True, celery.conf.broker_url.split("@")[-1]
    except Exception as exc:  # noqa: BLE001
        yield "broker", False, f"cannot connect to {celery.conf.broker_url.split('@')[-1]}: {exc}"
    fonts = cjk_fonts()
    yield ("CJK font", bool(fonts),
           ", ".join(fonts[:3]) if fonts else "no Chinese font found (install fonts-noto-cjk)")
    rare = rare_character_fonts()
    yield ("rare-character font", bool(rare),
           ", ".join(rare[:3]) if rare else "no font covers CJK extension B (install fonts-hanazono): "
           "names with rare characters would lose glyphs")
    built = certificate_fonts_built()
    yield ("certificate fonts", built,
           "GB 2312 subsets built in static/fonts" if built else
           "not built: run `make fonts` (certificates take ~2x longer with the full Noto faces)")
    hb = harfbuzz_subset_available()
    yield ("HarfBuzz subsetting", hb,
           "libharfbuzz-subset available" if hb else
           "libharfbuzz-subset0 missing: each certificate would take seconds instead of a fraction of one "
           "(apt-get install libharfbuzz-subset0)")
    try:
        # Inside the check: a WeasyPrint that cannot load is reported, not a doctor that fails.
        from weasyprint import HTML

        started = time.perf_counter()
        pdf = HTML(string="<p style='font-family: \"Noto Sans CJK SC\"'>星级上云</p>").write_pdf()
        elapsed = time.perf_counter() - started
        yield "WeasyPrint", pdf.startswith(b"%PDF"), f"rendered a Chinese test page in {elapsed:.2f} s"
    except Exception as exc:  # noqa: BLE001
        yield "WeasyPrint", False, f"cannot render: {exc}"
