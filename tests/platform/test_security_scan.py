"""bandit over our code: every finding is either fixed or triaged here with its reason
(docs/reliability.md lists the same), so a new one fails the build."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

TRIAGED = {
    ("B105", "rating/demo.py"): "the demo account's password, printed by `demo seed` and the README",
    ("B404", "rating/platform/doctor.py"): "doctor runs fc-list with a fixed argument list",
    ("B603", "rating/platform/doctor.py"): "fixed argument list, no shell, no user input",
    ("B607", "rating/platform/doctor.py"): "fc-list is looked up on PATH on purpose (Debian's fontconfig)",
    ("B404", "workers/supervise.py"): "the supervisor starts the worker command of the Procfile",
    ("B603", "workers/supervise.py"): "argv comes from the Procfile, no shell",
}


def test_bandit_finds_nothing_untriaged():
    bandit = Path(sys.executable).with_name("bandit")
    done = subprocess.run([str(bandit), "-r", "rating", "workers", "forms", "wsgi.py", "-f", "json", "-q"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    assert not report["errors"], report["errors"]
    found = {(r["test_id"], r["filename"].removeprefix("./")): r for r in report["results"]}
    untriaged = {key: (r["issue_severity"], r["issue_text"], r["line_number"])
                 for key, r in found.items() if key not in TRIAGED}
    assert not untriaged, untriaged
    assert all(r["issue_severity"] == "LOW" for r in found.values())
    assert report["metrics"]["_totals"]["loc"] > 5000          # it really read our code
