"""The layout's import rules (`.importlinter`): views and the CLI above forms, forms above
the use cases, the use cases above infrastructure, models and the pure rules; nothing
below the views imports them, services and infrastructure never import the workers
(jobs are published by name), and the rules import only rules."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold():
    # In a process of its own: import-linter reconfigures logging for the process it runs in.
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--config", str(ROOT / ".importlinter"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
