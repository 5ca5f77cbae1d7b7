"""Throwaway servers for the tests: PostgreSQL, Redis, Celery workers, the web app.

Each test run starts its own instances on free ports in temporary folders, so the tests
pass on a fresh machine and never touch services that someone else started.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


# As in the Procfile: without the event heartbeat, gossip and mingle a worker resumes
# consuming after Redis restarts (celery/celery#8030, #8091); email has its own queue.
WORKER_FLAGS = ("--without-heartbeat", "--without-gossip", "--without-mingle", "-Q", "celery,mail")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def _pg_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL server binaries not found: `make test` installs the postgresql package")


class PostgresServer:
    """A private PostgreSQL cluster. As root it runs as the `postgres` user (initdb refuses root)."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        """`settings`: server settings added to the command line (`-c name=value`)."""
        self.bindir = _pg_bindir()
        self.settings = dict(settings or {})
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="rating-pg-"))
        self.data = self.base / "data"
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.base, user.pw_uid, user.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self.run_as, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> "PostgresServer":
        if not self.data.exists():
            self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                      "-E", "UTF8", "--locale=C.UTF-8")
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
                   + "".join(f" -c {name}={value}" for name, value in self.settings.items()))
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.base / "log"), "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.base, ignore_errors=True)


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="rating-redis-"))
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Process:
    """A child process of ours (worker, web server) with its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], name: str, log_dir: Path) -> None:
        self.args, self.env, self.name = args, env, name
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Process":
        self.log = open(self.log_path, "ab")
        # A process group of its own, so that SIGKILL reaches the worker's children too.
        self.process = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_for_log(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_path.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.output()}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not print {text!r} in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        self.log.close()


def worker(env: dict[str, str], log_dir: Path, name: str = "worker", concurrency: int = 2) -> Process:
    # Supervised as in the Procfile: a worker that a broker outage crashes is started again.
    proc = Process([str(BIN / "python"), "-m", "workers.supervise", str(BIN / "celery"), "-A",
                    "workers.celery_app", "worker", "--loglevel", "INFO",
                    "--concurrency", str(concurrency), "--hostname", f"{name}@%h", *WORKER_FLAGS],
                   env, name, log_dir)
    proc.start()
    try:
        proc.wait_for_log("ready.")
    except BaseException:
        proc.stop()
        raise
    return proc


def web(env: dict[str, str], log_dir: Path, port: int, name: str = "web", workers: int = 2,
        threads: int = 4) -> Process:
    """gunicorn as the Procfile runs it (2 workers × 4 threads unless told otherwise)."""
    proc = Process([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                    "--threads", str(threads), "wsgi:app"], env, name, log_dir)
    proc.start()
    try:
        wait_for_port(port)
    except BaseException:
        proc.stop()
        raise
    return proc
