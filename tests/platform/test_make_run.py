"""`make run`'s own recipe, run for real (its install and seed steps skipped): every process
honcho starts agrees on the public address of the port the web process serves, although
honcho gives each process a PORT of its own (5100 for the second, …), and runs in
development mode with the local mail catcher as its mail server. Before issue 27 every
process built certificates' QR codes on 127.0.0.1:5000 whatever PORT was."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.servers import ROOT, free_port

pytestmark = pytest.mark.integration

PRINT_SETTINGS = ("from rating.config import from_environment as f; import json, os, sys; c = f(sys.argv[1]); "
                  "print(json.dumps({k: c[k] for k in ('PUBLIC_BASE_URL', 'DEVELOPMENT', 'MAIL_SERVER', 'MAIL_PORT')}"
                  " | {'PORT': os.environ['PORT']}))")


def _run(tmp_path: Path, env: dict[str, str]) -> dict[str, dict]:
    """Run `make run` with a honcho that starts a Procfile of two processes printing the
    settings they read, as the web process and the worker would."""
    settings = tmp_path / "settings"
    settings.mkdir()
    procfile = tmp_path / "Procfile"
    procfile.write_text("".join(
        f"{name}: cd {ROOT} && {sys.executable} -c \"{PRINT_SETTINGS}\" {tmp_path} > {settings}/{name}.json; sleep 60\n"
        for name in ("web", "worker")))
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    honcho = fake_bin / "honcho"
    honcho.write_text(f"#!/bin/sh\nexec {Path(sys.executable).parent}/honcho -f {procfile} start\n")
    honcho.chmod(0o755)
    process = subprocess.Popen(
        ["make", "-s", "run", f"BIN={fake_bin}", "-o", "system-run", "-o", "deps", "-o", "fonts",
         "-o", "translations", "-o", "seed"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = {p.stem: p.read_text() for p in settings.glob("*.json")}
            if len(found) == 2 and all(found.values()):
                return {name: json.loads(text) for name, text in found.items()}
            time.sleep(0.2)
        raise AssertionError("the processes of `make run` did not start")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _environment(**given: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PORT", "PUBLIC_BASE_URL", "RATING_ENV", "MAIL_SERVER", "MAIL_PORT")}
    return env | given


def test_every_process_builds_links_on_the_port_served(tmp_path):
    port = str(free_port())
    settings = _run(tmp_path, _environment(PORT=port))
    assert settings["web"]["PORT"] == port                      # what gunicorn binds
    assert settings["worker"]["PORT"] != port                   # honcho's own numbering
    for process in ("web", "worker"):
        assert settings[process]["PUBLIC_BASE_URL"] == f"http://127.0.0.1:{port}"
        assert settings[process]["DEVELOPMENT"] is True
        assert (settings[process]["MAIL_SERVER"], settings[process]["MAIL_PORT"]) == ("127.0.0.1", 2525)


def test_a_given_public_address_reaches_every_process(tmp_path):
    settings = _run(tmp_path, _environment(PORT=str(free_port()), PUBLIC_BASE_URL="https://rating.example.cn"))
    assert {s["PUBLIC_BASE_URL"] for s in settings.values()} == {"https://rating.example.cn"}
