"""Where the local storage backend keeps files, for tests that look at them on disk (the
product reads and writes them through `blobstore`, by key)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rating.models import Rating
from rating.platform import blobstore, storage
from rating.services.ratings import certificates


def evidence_path(sha256: str, kind: str = "evidence") -> Path:
    return storage.storage_root() / storage.key_for(sha256, kind)


def certificate_folder(certificate_no: str) -> Path:
    return storage.storage_root() / certificates.folder_key(certificate_no)


def certificate_path(certificate_no: str, sha256: str) -> Path:
    return certificate_folder(certificate_no) / f"{sha256}.pdf"


def certificate_file(rating: Rating) -> Path | None:
    """The local file of the rating's current certificate, if it is there."""
    key = certificates.stored_key(rating)
    if key is None:
        return None
    path = storage.storage_root() / key
    return path if path.exists() else None


def certificate_bytes(rating: Rating) -> bytes | None:
    """The current certificate's PDF from whichever backend, or None."""
    key = certificates.stored_key(rating)
    return None if key is None else blobstore.backend().read_bytes(key)


@contextmanager
def storage_blocked(app, tmp_path: Path, folder: str) -> Iterator[None]:
    """STORAGE_DIR set, for the block, to one where `folder` cannot be created: a file is in its way."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / folder).write_text("a file where the folder should be")
    original = app.config["STORAGE_DIR"]
    app.config["STORAGE_DIR"] = str(blocked)
    try:
        yield
    finally:
        app.config["STORAGE_DIR"] = original
