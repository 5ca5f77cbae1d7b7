"""What an upload must not be beyond its type, read from its content (storage sniffs the type).

* An XLSX or DOCX is a zip: refused when it would unpack to too much, holds too many files,
  or nests archives deeper than a document embedding a workbook does (zip bombs). Sizes are
  the ones the archive declares; nothing is unpacked but a nested archive, and that with a
  bounded read, since Python's zipfile stops a member at its declared size.
* A PDF, PNG or JPEG is refused when it is also something else (a polyglot): when it carries
  web-page markup or script (page, script, frame, SVG, object and form elements, a namespace
  prefix or not; the XHTML namespace; a tag with an event handler such as `onerror=`;
  `javascript:` links; PHP), when it is also a zip archive (its central directory at the
  end), or, for a PDF, when anything but a few bytes follows the last `%%EOF`.

Each check returns the message to show, or None.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

from flask_babel import gettext as _

MAX_UNZIPPED_BYTES = 200 * 1024 * 1024   # all members, nested archives' included
MAX_ZIP_RATIO = 100                      # unpacked / packed, per archive
MAX_ZIP_MEMBERS = 5000                   # all archives together
MAX_DEPTH = 2                            # the document, and an archive embedded in it
MAX_NESTED_BYTES = 20 * 1024 * 1024      # read to inspect an embedded archive
ZIP_MAGIC = b"PK\x03\x04"
CHUNK = 1024 * 1024
MARKUP = re.compile(
    rb"<\s*(?:[a-z][\w.-]{0,30}:)?(?:script|html|body|iframe|frame|svg|object|embed|form)\b"   # <x:script …> too
    rb"|<!doctype\s+html|<\?php|javascript:|http://www\.w3\.org/1999/xhtml"
    rb"|<[a-z][a-z0-9]{0,30}\b[^<>]{0,200}?[\s/\"']on[a-z]{3,30}\s*=",     # <img src=x onerror=…>
    re.IGNORECASE)
OVERLAP = 300                            # a match may straddle two chunks
PDF_TAIL = 1024                          # readers look for the last %%EOF this far from the end


class _Bomb(Exception):
    pass


@dataclass
class _Counted:
    """Members and unpacked bytes of all archives inspected so far."""
    members: int = 0
    unpacked: int = 0


def archive_problem(spool) -> str | None:
    """For a file that starts like a zip: the message if it is a possible zip bomb."""
    spool.seek(0)
    try:
        with zipfile.ZipFile(spool) as archive:
            _inspect(archive, depth=1, counted=_Counted())
    except _Bomb:
        return _("文件解压后过大、包含的文件过多或层层嵌套压缩包（疑似压缩炸弹），已拒收。请另存为普通的 XLSX 或 DOCX 后重新上传。")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        return None      # not a readable zip: the type check refuses it
    return None


def _inspect(archive: zipfile.ZipFile, depth: int, counted: _Counted) -> None:
    """Raise _Bomb past a limit."""
    infos = archive.infolist()
    unpacked = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos) or 1
    counted.members += len(infos)
    counted.unpacked += unpacked
    if counted.members > MAX_ZIP_MEMBERS or counted.unpacked > MAX_UNZIPPED_BYTES \
            or unpacked / packed > MAX_ZIP_RATIO:
        raise _Bomb
    for info in infos:
        if info.is_dir() or info.file_size < len(ZIP_MAGIC):
            continue
        with archive.open(info) as member:
            if member.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
                continue
            if depth >= MAX_DEPTH or info.file_size > MAX_NESTED_BYTES:
                raise _Bomb
            data = ZIP_MAGIC + member.read(MAX_NESTED_BYTES)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as nested:
                _inspect(nested, depth + 1, counted)
        except zipfile.BadZipFile:
            continue     # a broken embedded archive unpacks to nothing


def polyglot_problem(content_type: str, spool) -> str | None:
    """For a PDF or an image: the message if the file is also a page, a script or an archive."""
    if content_type not in ("application/pdf", "image/png", "image/jpeg"):
        return None
    message = _("文件内容与其格式不符（夹带了网页、脚本或压缩包等其他内容），已拒收。请另存为标准文件后重新上传。")
    spool.seek(0)
    if zipfile.is_zipfile(spool) or _has_markup(spool):
        return message
    if content_type == "application/pdf":
        spool.seek(0, io.SEEK_END)
        spool.seek(max(0, spool.tell() - PDF_TAIL))
        if b"%%EOF" not in spool.read():
            return message
    return None


def _has_markup(spool) -> bool:
    spool.seek(0)
    previous = b""
    while chunk := spool.read(CHUNK):
        if MARKUP.search(previous[-OVERLAP:] + chunk):
            return True
        previous = chunk
    return False
