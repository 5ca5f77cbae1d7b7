"""The worker supervisor starts a command again when it dies, and stops with it on SIGTERM."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.support.servers import ROOT

pytestmark = pytest.mark.unit


def test_restarts_a_dying_command_and_stops_on_sigterm(tmp_path):
    counter = tmp_path / "runs"
    # Each run appends a line; the first two exit at once (as a crashed worker), the third stays up.
    script = (f"import pathlib,time,sys; p=pathlib.Path({str(counter)!r}); "
              "n=len(p.read_text().splitlines()) if p.exists() else 0; p.write_text('x\\n'*(n+1)); "
              "sys.exit(3) if n < 2 else time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-m", "workers.supervise", sys.executable, "-c", script], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not counter.exists() or len(counter.read_text().splitlines()) < 3):
        time.sleep(0.1)
    assert len(counter.read_text().splitlines()) == 3
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    stderr = proc.stderr.read()
    assert stderr.count("exited with 3; starting it again") == 2
    time.sleep(1.5)
    assert len(counter.read_text().splitlines()) == 3        # not started again after SIGTERM
