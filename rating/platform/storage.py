"""Content-addressed file storage and upload content checks.

Files are stored by SHA-256, never under a name a user chose, and are served only
through views that check permission; the original name is metadata. Where they are
stored (STORAGE_DIR, or an S3 bucket) is `blobstore`'s business: keys here are the
paths relative to STORAGE_DIR.
"""
from __future__ import annotations

import errno
import hashlib
import logging
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from rating.errors import TooLarge, Unavailable, ValidationFailed
from rating.platform import blobstore, upload_checks
from rating.platform.blobstore import write_atomically  # noqa: F401  (callers use storage.write_atomically)
from rating.platform.upload_checks import MAX_UNZIPPED_BYTES, MAX_ZIP_MEMBERS, MAX_ZIP_RATIO

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    content_type: str
    key: str


def storage_root() -> Path:
    return Path(current_app.config["STORAGE_DIR"])


def key_for(sha256: str, kind: str = "evidence") -> str:
    """The storage key of a content-addressed file (its path relative to STORAGE_DIR)."""
    return f"{kind}/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def safe_filename(name: str | None) -> str:
    """Keep a readable original name (Chinese included) without paths or control characters."""
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    stem, dot, suffix = name.rpartition(".")
    if len(name) > 200 and dot and stem and 0 < len(suffix) <= 10:
        return f"{stem[:199 - len(suffix)]}.{suffix}"      # a long name keeps its extension
    return name[:200] or "file"


def _zip_kind(head: bytes, spool) -> str | None:
    spool.seek(0)
    try:
        with zipfile.ZipFile(spool) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                return None
            expanded = sum(i.file_size for i in infos)
            packed = sum(i.compress_size for i in infos) or 1
            if expanded > MAX_UNZIPPED_BYTES or expanded / packed > MAX_ZIP_RATIO:
                return None
            names = {i.filename for i in infos}
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if "xl/workbook.xml" in names:
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    if "word/document.xml" in names:
        return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    return None


def sniff_content_type(head: bytes, spool) -> str | None:
    """The type by content (magic bytes), or None when it is not an accepted kind."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(head, spool)
    return None


def store_upload(stream, kind: str = "evidence") -> StoredFile:
    """Copy an upload to storage by hash. Raises TooLarge / ValidationFailed; writes nothing then."""
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    digest = hashlib.sha256()
    size = 0
    spool = tempfile.SpooledTemporaryFile(max_size=8 * CHUNK)
    try:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise TooLarge(_("文件过大：单个文件不能超过 %(mb)s MB。", mb=limit // (1024 * 1024)))
            digest.update(chunk)
            spool.write(chunk)
        if size == 0:
            raise ValidationFailed(_("文件为空，请重新选择。"), {"file": [_("文件为空。")]})
        spool.seek(0)
        head = spool.read(16)
        content_type = sniff_content_type(head, spool)
        problem = upload_checks.archive_problem(spool) if head.startswith(b"PK\x03\x04") else None
        if problem is None and content_type is None:
            problem = _("仅支持 PDF、PNG、JPEG、XLSX、DOCX 格式的文件（按文件内容识别）。")
        problem = problem or upload_checks.polyglot_problem(content_type, spool)
        if problem:
            raise ValidationFailed(problem, {"file": [problem]})
        sha = digest.hexdigest()
        key = key_for(sha, kind)
        try:
            store = blobstore.backend()
            if not store.exists(key):
                spool.seek(0)
                store.write(key, iter(lambda: spool.read(CHUNK), b""), prefix=".upload-")
        except OSError as exc:
            raise storage_unavailable(exc) from exc
        return StoredFile(sha256=sha, size=size, content_type=content_type, key=key)
    finally:
        spool.close()


def storage_unavailable(exc: OSError) -> Unavailable:
    """The user-facing error for a file that could not be written (nothing was kept)."""
    log.error("storage write failed (%s backend, %s): %s",
              current_app.config.get("STORAGE_BACKEND") or "local", storage_root(), exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        message = _("文件存储空间已满，文件未保存。请稍后重试，或联系系统管理员。")
    else:
        message = _("文件存储暂时无法写入，文件未保存。请稍后重试，或联系系统管理员。")
    return Unavailable(message, {"file": [message]})
