"""Where stored files live: a directory every host shares (default) or an S3-compatible bucket.

Every file the system keeps (evidence by hash, certificate PDFs, built exports) is named
by a key such as ``evidence/ab/cd/<sha256>`` or ``certificates/<number>/<sha256>.pdf``;
the backend chosen by STORAGE_BACKEND maps it to a place:

- ``local``: ``STORAGE_DIR/<key>``. A file is written to a temporary name beside its
  target, synced and renamed (`write_atomically`): a reader sees the old file or the
  complete new one.
- ``s3``: the object ``S3_PREFIX<key>`` in S3_BUCKET (S3_ENDPOINT_URL for MinIO and other
  S3-compatible servers; credentials from boto3's usual environment). A file is first
  written completely to a local temporary file (under STORAGE_DIR/.staging, removed at
  once), then uploaded: S3 makes an object visible only once its upload completed, so no
  reader ever sees part of one.

A write killed before it finished leaves its temporary (or staged) file behind: beat's
`sweep_storage` removes those an hour old, and each process writing to S3 also tidies its
own host's staging folder now and then (`remove_stale_temporaries`, `S3Backend.write`).

Downloads are always streamed through the application's permission-checked views (no
public or presigned URL), both backends answering a single byte range with 206. Write
failures surface as OSError (S3 errors are wrapped), so the callers' "storage full or
unwritable" handling covers both backends.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import IO, Iterable, Iterator

from flask import Response, current_app, has_request_context, request, send_file
from flask_babel import gettext as _
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import parse_range_header

from rating import clock
from rating import config as config_module
from rating.errors import Unavailable

log = logging.getLogger(__name__)

# The prefixes writers give `write` (exports, evidence uploads, certificate renders).
TEMPORARY_PREFIXES = (".tmp-", ".upload-", ".render-")
# A temporary not written to for this long belongs to a write that died.
STALE_AFTER = timedelta(hours=1)
# How often a process writing to S3 tidies its host's staging folder (S3Backend.write).
STAGING_TIDY_SECONDS = 600.0
_staging_tidied: dict[Path, float] = {}


class StorageUnreachable(OSError):
    """The object store refused or could not be reached (errno None: "cannot write now")."""


def write_atomically(target: Path, chunks: Iterable[bytes], prefix: str = ".tmp-") -> int:
    """Write to a temporary file beside `target`, sync it, then rename it into place: a
    reader sees the old file or the complete new one, never part of it; on any failure
    (disk full, unwritable folder) nothing is left behind and the error propagates.
    Returns the number of bytes written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=prefix)
    try:
        size = _write_synced(fd, chunks)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return size


def _write_synced(fd: int, chunks: Iterable[bytes]) -> int:
    """Write `chunks` to the open file `fd` (closed after), synced to disk; the bytes written."""
    size = 0
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size


class LocalBackend:
    """Files under one directory (shared by every host in a multi-host setup)."""

    kind = "local"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key

    def write(self, key: str, chunks: Iterable[bytes], prefix: str = ".tmp-") -> int:
        return write_atomically(self.path(key), chunks, prefix=prefix)

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            return None

    def read_bytes(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def send(self, key: str, **send_file_options) -> Response | None:
        """The file as a response (send_file's options), or None when there is none."""
        path = self.path(key)
        if not path.is_file():
            return None
        return send_file(path, **send_file_options)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def names(self, folder: str) -> list[str]:
        """The names of the files directly in `folder` (a key prefix without its slash)."""
        directory = self.path(folder)
        if not directory.is_dir():
            return []
        return [p.name for p in directory.iterdir() if p.is_file()]

    def temporaries(self, folder: str, prefix: str) -> list[Path]:
        """Temporary files of writes under `folder` (one level down) that may have died."""
        directory = self.path(folder)
        if not directory.is_dir():
            return []
        return list(directory.glob(f"*/{prefix}*"))

    def all_temporaries(self) -> Iterator[Path]:
        """Temporary files of writes anywhere under the root (beside evidence, exports and
        certificates alike)."""
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(TEMPORARY_PREFIXES):
                    yield Path(folder) / name

    def check(self) -> tuple[bool, str]:
        """For `flask doctor`: the directory exists (or can be made) and is writable."""
        self.root.mkdir(parents=True, exist_ok=True)
        writable = os.access(self.root, os.W_OK | os.X_OK)
        return writable, f"{self.root}" if writable else f"{self.root} is not writable"


def _error_code(exc: Exception) -> str | None:
    # boto3 and botocore load only where the S3 backend is used (a lazy import for start-up
    # time: the local backend never needs them), here and below.
    from botocore.exceptions import ClientError

    return exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None


def _is_missing(exc: Exception) -> bool:
    return _error_code(exc) in ("404", "NoSuchKey", "NotFound")


class S3Backend:
    """Objects in an S3 (or S3-compatible) bucket; files are staged locally, then uploaded."""

    kind = "s3"

    def __init__(self, client, bucket: str, prefix: str, staging: str | Path):
        self.client, self.bucket, self.prefix = client, bucket, prefix
        self.staging = Path(staging)

    def object_key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def _errors(self) -> tuple:
        # Lazy for start-up time: the S3 backend's libraries only (see _error_code).
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError, Boto3Error)

    def write(self, key: str, chunks: Iterable[bytes], prefix: str = ".tmp-") -> int:
        """Stage the complete file locally (synced), then upload it; the staged file is
        removed whatever happens. A failed upload leaves no object (S3 publishes an object,
        multipart or not, only when its upload completes)."""
        self.staging.mkdir(parents=True, exist_ok=True)
        self._tidy_staging()
        fd, tmp_name = tempfile.mkstemp(dir=self.staging, prefix=prefix)
        try:
            size = _write_synced(fd, chunks)
            try:
                self.client.upload_file(tmp_name, self.bucket, self.object_key(key))
            except self._errors() as exc:
                raise StorageUnreachable(f"S3 upload of {key} failed: {exc}") from exc
        finally:
            Path(tmp_name).unlink(missing_ok=True)
        return size

    def _tidy_staging(self) -> None:
        """Remove this host's stale staged files, at most every ten minutes a process: beat's
        sweeper runs on one worker host, but uploads are staged on every web host (a web
        worker killed mid-upload leaves its file; its replacement's first upload removes it)."""
        now = time.monotonic()
        last = _staging_tidied.get(self.staging)
        if last is not None and now - last < STAGING_TIDY_SECONDS:
            return
        _staging_tidied[self.staging] = now
        try:
            remove_stale(self.all_temporaries())
        except OSError as exc:
            log.warning("stale staged files in %s not removed: %s", self.staging, exc)

    def _head(self, key: str) -> dict | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except self._errors() as exc:
            if _is_missing(exc):
                return None
            raise StorageUnreachable(f"S3 head of {key} failed: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int | None:
        head = self._head(key)
        return None if head is None else int(head["ContentLength"])

    def _get(self, key: str, byte_range: str | None = None) -> dict | None:
        """The object, or only `byte_range` of it (S3's `bytes=a-b`); None when there is
        none. A range starting past the end is refused with 416 naming the object's length."""
        options = {"Range": byte_range} if byte_range else {}
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.object_key(key), **options)
        except self._errors() as exc:
            if _is_missing(exc):
                return None
            if _error_code(exc) == "InvalidRange":
                raise RequestedRangeNotSatisfiable(length=self.size(key)) from exc
            raise StorageUnreachable(f"S3 read of {key} failed: {exc}") from exc

    def read_bytes(self, key: str) -> bytes | None:
        found = self._get(key)
        if found is None:
            return None
        with found["Body"] as body:
            return body.read()

    def send(self, key: str, **send_file_options) -> Response | None:
        """The object streamed through this response (the view has checked permission),
        or None when there is none. A single byte range is asked of S3 and answered 206
        (416 past the end), as send_file answers for a local file: a broken download
        resumes without fetching the whole object again. An unreachable store answers 503
        (try again), not 500."""
        byte_range = requested_range(send_file_options.get("etag"))
        try:
            found = self._get(key, byte_range)
        except StorageUnreachable as exc:
            log.error("storage read failed: %s", exc)
            raise Unavailable(_("系统暂时无法处理您的请求，请稍后重试；您已保存的内容不会丢失。")) from exc
        if found is None:
            return None
        body: IO[bytes] = found["Body"]          # closed with the response
        send_file_options.setdefault("last_modified", found.get("LastModified"))
        response = send_file(body, **send_file_options)
        if response.status_code != 200:          # 304 or 412: the conditions come first
            return response
        response.content_length = int(found["ContentLength"])
        if byte_range and found.get("ContentRange"):    # a server may ignore Range: all of it
            response.status_code = 206
            response.headers["Content-Range"] = found["ContentRange"]
        return response

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except self._errors() as exc:
            raise StorageUnreachable(f"S3 delete of {key} failed: {exc}") from exc

    def names(self, folder: str) -> list[str]:
        start = self.object_key(folder.rstrip("/") + "/")
        names: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=start, Delimiter="/"):
                names.extend(item["Key"][len(start):] for item in page.get("Contents", ()))
        except self._errors() as exc:
            raise StorageUnreachable(f"S3 listing of {folder} failed: {exc}") from exc
        return names

    def temporaries(self, folder: str, prefix: str) -> list[Path]:
        """Staged files of this host's writes that died before removing them."""
        if not self.staging.is_dir():
            return []
        return list(self.staging.glob(f"{prefix}*"))

    def all_temporaries(self) -> list[Path]:
        """Every file in this host's staging folder: each is a write not uploaded (yet)."""
        if not self.staging.is_dir():
            return []
        return [path for path in self.staging.iterdir() if path.is_file()]

    def check(self) -> tuple[bool, str]:
        """For `flask doctor`: the bucket answers and the staging folder is writable."""
        where = f"s3://{self.bucket}/{self.prefix}"
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except self._errors() as exc:
            return False, f"cannot reach {where}: {exc}"
        self.staging.mkdir(parents=True, exist_ok=True)
        if not os.access(self.staging, os.W_OK | os.X_OK):
            return False, f"{where}, but the staging folder {self.staging} is not writable"
        return True, f"{where} (staging in {self.staging})"


def requested_range(etag: object = None) -> str | None:
    """The single byte range this GET asks for, in S3's syntax (`bytes=a-b`, `bytes=a-`,
    `bytes=-n`), or None for the whole file: no Range, a HEAD, a Range that is malformed
    or asks for several parts (RFC 9110 lets a server ignore those), or an If-Range that
    is not the ETag we send (the file may have changed since the client got its part)."""
    if not has_request_context() or request.method != "GET":
        return None
    parsed = parse_range_header(request.headers.get("Range"))
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and not (isinstance(etag, str) and if_range == f'"{etag}"'):
        return None
    start, stop = parsed.ranges[0]
    if start < 0:
        return f"bytes={start}"
    return f"bytes={start}-" if stop is None else f"bytes={start}-{stop - 1}"


def remove_stale(paths: Iterable[Path], older_than: timedelta = STALE_AFTER) -> int:
    """Remove the files not written to for `older_than` (a live write, on any host, writes
    and uploads within minutes); the number removed."""
    cutoff, removed = clock.now().timestamp() - older_than.total_seconds(), 0
    for path in paths:
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


def remove_stale_temporaries(older_than: timedelta = STALE_AFTER) -> int:
    """Temporaries of writes killed before they finished, which nothing else removes: the
    local backend's anywhere under STORAGE_DIR, the S3 backend's in this host's staging
    folder. Beat runs it (`workers.tasks.sweep_storage`)."""
    return remove_stale(backend().all_temporaries(), older_than)


def _s3_client(app):
    """One client per process and settings (boto3 clients are thread-safe, not fork-safe)."""
    settings = (os.getpid(), app.config.get("S3_ENDPOINT_URL") or None, app.config.get("S3_REGION") or None)
    cached = app.extensions.get("rating_s3_client")
    if cached is None or cached[0] != settings:
        # Lazy for start-up time: the S3 backend's libraries only (see _error_code).
        import boto3
        from botocore.config import Config

        client = boto3.session.Session().client(
            "s3", endpoint_url=settings[1], region_name=settings[2],
            config=Config(connect_timeout=5, read_timeout=30,
                          retries={"max_attempts": 3, "mode": "standard"}))
        cached = (settings, client)
        app.extensions["rating_s3_client"] = cached
    return cached[1]


def backend() -> LocalBackend | S3Backend:
    """The backend of the current application's configuration."""
    app = current_app._get_current_object()
    config = app.config
    problem = config_module.storage_problem(config)     # create_app refused these at start
    if problem:
        raise RuntimeError(problem)
    if (config.get("STORAGE_BACKEND") or "local").lower() == "local":
        return LocalBackend(config["STORAGE_DIR"])
    prefix = (config.get("S3_PREFIX") or "").strip("/")
    return S3Backend(_s3_client(app), config["S3_BUCKET"], f"{prefix}/" if prefix else "",
                     Path(config["STORAGE_DIR"]) / ".staging")
