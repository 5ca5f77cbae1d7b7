"""`python -m workers.supervise CMD…`: run a worker and start it again if it dies.

A Celery worker can exit on its own when the broker disappears at the wrong moment (a
kombu race while it closes the lost connection). Applications are never lost then (they
stay submitted and beat re-publishes them), but nothing is scored until a worker runs
again. Under systemd use `Restart=always`; elsewhere (the Procfile, the tests) this does
the same: restart with a growing pause, and pass SIGTERM, SIGINT and SIGQUIT on, in which
case the worker shuts down as usual and is not restarted.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m workers.supervise COMMAND [ARG…]", file=sys.stderr)
        return 2
    state: dict = {"stopping": False, "child": None}

    def forward(signum, _frame) -> None:
        state["stopping"] = True
        child = state["child"]
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, forward)
    pause = 1.0
    while True:
        started = time.monotonic()
        state["child"] = subprocess.Popen(argv)
        code = state["child"].wait()
        if state["stopping"]:
            return code
        if time.monotonic() - started > 60:
            pause = 1.0
        print(f"supervise: {argv[0]} exited with {code}; starting it again in {pause:.0f} s",
              file=sys.stderr, flush=True)
        time.sleep(pause)
        if state["stopping"]:
            return code
        pause = min(pause * 2, 30.0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
