"""Chinese first, English complete: every user-facing string has an English translation."""
from __future__ import annotations

import re
import subprocess

from babel.messages.pofile import read_po

import pytest

from tests.support.servers import BIN, ROOT

pytestmark = pytest.mark.unit

CATALOG = ROOT / "rating" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def extracted(tmp_path) -> set[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run([str(BIN / "pybabel"), "extract", "-F", "babel.cfg", "-k", "_l", "-k", "N_", "-k",
                    "lazy_gettext", "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    with open(pot, "rb") as handle:
        return {m.id for m in read_po(handle) if m.id}


def test_every_message_has_an_english_translation(tmp_path):
    with open(CATALOG, "rb") as handle:
        catalog = {m.id: m.string for m in read_po(handle) if m.id}
    # A plural entry (ngettext) has a tuple of ids and of forms: each form must be there.
    missing = sorted((m for m in extracted(tmp_path) if not _translated(catalog.get(m))), key=str)
    assert not missing, f"run `make messages` and translate: {missing}"


def _translated(string) -> bool:
    return bool(string) and (not isinstance(string, tuple) or all(string))


def test_translations_keep_their_placeholders():
    with open(CATALOG, "rb") as handle:
        for message in read_po(handle):
            if message.id and _translated(message.string):
                source = message.id[0] if isinstance(message.id, tuple) else message.id
                forms = message.string if isinstance(message.string, tuple) else (message.string,)
                for form in forms:
                    assert sorted(PLACEHOLDER.findall(source)) == sorted(PLACEHOLDER.findall(form)), source
