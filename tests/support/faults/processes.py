"""The processes of a scenario (gunicorn, beat, supervised workers), a worker killer and
storage that can be made to refuse writes."""
from __future__ import annotations

import itertools
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import requests

from tests.support.faults.http import parallel
from tests.support.servers import BIN, Process, free_port, web, worker


class Stack:
    """The web server (gunicorn), beat and supervised workers of one scenario, started
    together and stopped together whatever happens."""

    def __init__(self, env: dict[str, str], log_dir: Path, workers: int = 2, concurrency: int = 2,
                 web_workers: int = 2, beat: bool = True) -> None:
        self.env, self.log_dir = env, log_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.plan = (workers, concurrency, web_workers, beat)
        self.web = self.beat = None
        self.workers: list[Process] = []

    def __enter__(self) -> "Stack":
        workers, concurrency, web_workers, beat = self.plan
        try:
            with ThreadPoolExecutor(max_workers=workers + 2) as pool:
                web_started = pool.submit(web, self.env, self.log_dir, self.port, "web", web_workers)
                beat_started = pool.submit(self._beat) if beat else None
                started = [pool.submit(worker, self.env, self.log_dir, f"worker{n}", concurrency)
                           for n in range(1, workers + 1)]
                self.web = web_started.result()
                self.beat = beat_started.result() if beat_started else None
                self.workers = [f.result() for f in started]
            self._warm()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _warm(self, timeout: float = 60.0) -> None:
        """Until every gunicorn worker has loaded the app (the port listens before they have):
        a scenario's first requests must not wait seconds for that."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = parallel(lambda _n: _answer_seconds(f"{self.url}/healthz"), range(8), threads=8)
            if all(seconds is not None and seconds < 1.0 for seconds in replies):
                return
            time.sleep(0.2)
        raise TimeoutError(f"the web server did not answer in {timeout}s:\n{self.web.output()}")

    def _beat(self) -> Process:
        proc = Process([str(BIN / "celery"), "-A", "workers.celery_app", "beat", "--loglevel", "INFO",
                        "--schedule", str(self.log_dir / "beat-schedule")], self.env, "beat", self.log_dir)
        proc.start().wait_for_log("beat: Starting")
        return proc

    def __exit__(self, *_exc) -> None:
        for proc in [*self.workers, self.beat, self.web]:
            if proc is not None:
                proc.stop()

    def logs(self, tail: int = 3000) -> str:
        return "".join(f"\n--- {p.name}\n{p.read_text(errors='replace')[-tail:]}"
                       for p in sorted(self.log_dir.glob("*.log")))


def _answer_seconds(url: str) -> float | None:
    started = time.monotonic()
    try:
        requests.get(url, timeout=10)
    except requests.RequestException:
        return None
    return time.monotonic() - started


def celery_main(proc) -> psutil.Process | None:
    """The Celery main process of a supervised worker (the supervisor's child)."""
    try:
        children = psutil.Process(proc.process.pid).children()
    except psutil.NoSuchProcess:
        return None
    return children[0] if children else None


def pool_children(proc) -> list[psutil.Process]:
    main = celery_main(proc)
    try:
        return main.children() if main is not None else []
    except psutil.NoSuchProcess:
        return []


class Killer(threading.Thread):
    """SIGKILLs part of a worker every `interval` seconds (with some jitter): its pool
    children (tasks die mid-run, the main process sees the worker lost) or, every
    `main_every`-th kill, its main process (it and every message it had reserved vanish;
    the supervisor starts it again). Only a worker that is up and has its pool is hit, so
    that every kill lands on one that is working; and one worker's main process at most
    once per `main_gap` seconds: the supervisor restarts a process that died within a
    minute of starting after a growing pause (1, 2, 4 … 30 s), against a crash loop."""

    def __init__(self, workers: list, interval: float = 3.0, main_every: int = 4, main_gap: float = 65.0,
                 seed: int = 6) -> None:
        super().__init__(daemon=True)
        self.workers, self.interval, self.main_every, self.main_gap = workers, interval, main_every, main_gap
        self.random = random.Random(seed)
        self.stopping = threading.Event()
        self.events: list[tuple[float, str, str, int]] = []   # (time, worker, what, processes killed)
        self.main_killed: dict[str, float] = {}

    def _pick(self, turn: int, main: bool):
        for offset in range(len(self.workers)):
            proc = self.workers[(turn + offset) % len(self.workers)]
            if main and time.monotonic() - self.main_killed.get(proc.name, float("-inf")) < self.main_gap:
                continue
            parent, children = celery_main(proc), pool_children(proc)
            try:
                # A pool up for a moment already: consuming, not still starting (a child
                # killed while the pool starts makes Celery exit: "Could not start worker
                # processes", and the supervisor restarts it).
                settled = all(time.time() - c.create_time() > 1 for c in children)
                if parent is not None and children and settled:
                    return proc, parent, children
            except psutil.NoSuchProcess:
                continue
        return None

    def _busy(self, turn: int, within: float = 1.0, sample: float = 0.02):
        """A worker one of whose pool children is running a job right now (it used CPU in
        the last `sample` seconds), looked for during `within` seconds: jobs take tens of
        milliseconds, and a kill that lands between them interrupts nothing."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and not self.stopping.is_set():
            candidates = [self._pick(turn + n, main=False) for n in range(len(self.workers))]
            before = {}
            for found in filter(None, candidates):
                for child in found[2]:
                    try:
                        before[child.pid] = sum(child.cpu_times()[:2])
                    except psutil.NoSuchProcess:
                        pass
            time.sleep(sample)
            for found in filter(None, candidates):
                for child in found[2]:
                    try:
                        if sum(child.cpu_times()[:2]) > before.get(child.pid, float("inf")):
                            return found
                    except psutil.NoSuchProcess:
                        pass
        return None

    def run(self) -> None:
        for turn in itertools.count():
            if self.stopping.wait(self.interval * self.random.uniform(0.7, 1.3)):
                return
            what = "main" if (len(self.events) + 1) % self.main_every == 0 else "children"
            target = self._pick(turn, main=what == "main")
            if target is None and what == "main":
                what, target = "children", self._pick(turn, main=False)
            if target is None:
                continue
            proc, parent, children = target
            if what == "children":
                proc, parent, children = self._busy(turn) or target
            killed = 0
            for victim in [parent] if what == "main" else children:
                try:
                    victim.send_signal(signal.SIGKILL)
                    killed += 1
                except psutil.NoSuchProcess:
                    pass
            if what == "main":
                self.main_killed[proc.name] = time.monotonic()
            self.events.append((time.monotonic(), proc.name, what, killed))

    def stop(self) -> dict[str, int]:
        self.stopping.set()
        self.join(timeout=30)
        return self.summary()

    def summary(self) -> dict[str, int]:
        counts = Counter(what for _t, _name, what, killed in self.events if killed)
        return {"kills": sum(counts.values()), "pool_children_kills": counts["children"],
                "main_process_kills": counts["main"],
                "processes_killed": sum(killed for *_rest, killed in self.events)}


class StorageBlocker:
    """STORAGE_DIR on a filesystem of its own that can be filled to the last byte: a 1 MiB
    tmpfs when `mount` is allowed (root with CAP_SYS_ADMIN), so writes fail with ENOSPC as
    on a full disk. Elsewhere the folders a write needs are replaced by files (ENOTDIR /
    EEXIST: storage that cannot be written), which is what `kind` then says."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(root)],
                                      capture_output=True).returncode == 0
        self.kind = ("disk full (a 1 MiB tmpfs filled to the last byte)" if self.mounted
                     else "unwritable (a file where the folder should be)")
        self.blocked: list[tuple[Path, Path | None]] = []

    def block(self, *folders: Path) -> None:
        """Fill the filesystem; without a mount, put a file where each of `folders` is (a
        folder already there is moved aside meanwhile)."""
        if self.mounted:
            filler = self.root / ".filler"
            with open(filler, "ab", buffering=0) as out:
                for size in (1 << 16, 1 << 12, 1 << 8, 1):
                    try:
                        while True:
                            out.write(b"\0" * size)
                    except OSError:
                        continue
            self.blocked.append((filler, None))
            return
        for folder in folders:
            aside = folder.with_name(folder.name + ".aside") if folder.is_dir() else None
            if aside is not None:
                folder.rename(aside)
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.write_text("a file where the folder should be")
            self.blocked.append((folder, aside))

    def unblock(self) -> None:
        for path, aside in reversed(self.blocked):
            path.unlink(missing_ok=True)
            if aside is not None:
                aside.rename(path)
        self.blocked.clear()

    def leftovers(self) -> list[str]:
        """Temporary files that a failed write left behind (there must be none)."""
        return [str(p) for p in self.root.rglob(".upload-*")] + [str(p) for p in self.root.rglob(".render-*")]

    def close(self) -> None:
        self.unblock()
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.root)], capture_output=True)
