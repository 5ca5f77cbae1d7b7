"""Reading PDFs back with poppler, as a person's PDF reader would."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path


def _poppler(tool: str, data: bytes, *args: str) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        return subprocess.run([tool, *args, handle.name, *(["-"] if tool == "pdftotext" else [])],
                              check=True, capture_output=True, text=True, timeout=60).stdout


def pdf_text(data: bytes) -> str:
    return _poppler("pdftotext", data, "-enc", "UTF-8")


def pdf_fonts(data: bytes) -> list[dict[str, str]]:
    """pdffonts' table: name, type, encoding, emb, sub, uni per font."""
    lines = _poppler("pdffonts", data).splitlines()[2:]
    fonts = []
    for line in lines:
        parts = line.split()
        # name, type (may have spaces), encoding, emb, sub, uni, object, generation
        fonts.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4], "uni": parts[-3]})
    return fonts


def pdf_file(data: bytes, folder: Path, name: str = "c.pdf") -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def pdf_pixels(data: bytes, dpi: int = 100) -> bytes:
    """The first page as poppler draws it (a PPM image), to compare renderings pixel for pixel."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "in.pdf"
        source.write_bytes(data)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-singlefile", str(source), str(Path(folder) / "page")],
                       check=True, capture_output=True, timeout=60)
        return (Path(folder) / "page.ppm").read_bytes()
