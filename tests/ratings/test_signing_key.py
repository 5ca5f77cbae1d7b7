"""The certificate signing key is created once, by whichever process first needs it, and
no process ever reads it half written (two workers rendering the first certificates of a
new installation at the same moment)."""
from __future__ import annotations

import threading

from cryptography.hazmat.primitives import serialization

import pytest

from rating.services.ratings import signing

pytestmark = pytest.mark.unit


def test_processes_racing_to_create_the_key_all_read_one_whole_key(tmp_path):
    for attempt in range(30):
        path = tmp_path / f"{attempt}" / "key.pem"
        start = threading.Barrier(8)
        keys, errors = [], []

        def create_and_read() -> None:
            start.wait()
            signing._create_key(path)
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except ValueError as exc:          # a file another thread has not finished
                errors.append(exc)
                return
            keys.append(key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))

        threads = [threading.Thread(target=create_and_read) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and len(keys) == 8 and len(set(keys)) == 1, (attempt, errors)
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert [p.name for p in path.parent.iterdir()] == ["key.pem"]     # no temporary left
