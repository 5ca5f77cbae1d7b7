"""`python -m bench.faults [sigkill] [redis] [postgres] [--scale F]`: the long fault scenarios
of docs/reliability.md on throwaway PostgreSQL, Redis and SMTP servers of their own, with
real gunicorn, beat and worker processes; writes bench/results/faults.json.

- sigkill: 1,000 submissions (10 a second) and 1,000 certificates while a worker loses its
  pool children or (every 4th time) its main process every ~3 s;
- redis: Redis stopped for 30 s while 400 firms submit, 50 file from scratch and county
  reviewers forward 300 applications;
- postgres: PostgreSQL stopped twice under load (a fast shutdown for 10 s at 3 s, then an
  immediate one, a crash, for 5 s at 20 s) while 300 firms submit and 150 file from scratch.

The same scenarios run small in `make test` (tests/platform/test_faults.py); `--scale`
shrinks these (0.1: a quick look). The figures to watch are `errors`, `lost` and
`duplicates`: all three must be 0.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

from bench.common import RESULTS, servers


# Sweepers every 2 s, a job counts as lost after 10 s, a message whose sender died is sent
# again after 30 s (production: 30 s, 60 s, 5 min): the same mechanisms, recovering within
# a run.
SETTINGS = {"SWEEP_INTERVAL_SECONDS": "2", "SWEEP_GRACE_SECONDS": "10", "MAIL_SENDING_TIMEOUT_SECONDS": "30"}


def run(names: list[str], scale: float = 1.0) -> dict:
    from tests.support.faults import scenarios

    def n(count: int) -> int:
        return max(10, int(count * scale))

    plans = {
        "sigkill": lambda env, logs, pg, redis, smtp: scenarios.workers_sigkilled(
            env, logs, smtp, submissions=n(1000), granted=n(1000), rate=10.0, kill_every=3.0, timeout=1800),
        "redis": lambda env, logs, pg, redis, smtp: scenarios.redis_outage(
            env, logs, redis, smtp, firms=n(1000), newcomers=n(50), outage=max(10.0, 30 * scale),
            timeout=900),
        "postgres": lambda env, logs, pg, redis, smtp: scenarios.postgres_restart(
            env, logs, pg, smtp, drafts=n(300), newcomers=n(150), submit_rate=10.0, file_rate=5.0,
            restarts=(("fast", 3.0, 10.0), ("immediate", 20.0, 5.0)), timeout=900),
    }
    results = {}
    with servers("faults", broker_db=4, smtp=True, settings=SETTINGS) as run:
        app, env, postgres, redis, smtp, instance = run.app, run.env, run.postgres, run.redis, run.smtp, run.instance
        with app.app_context():
            for name in names or list(plans):
                logs = instance / f"logs-{name}"
                logs.mkdir()
                started = time.time()
                figures = plans[name](env, logs, postgres, redis, smtp)
                figures["seconds"] = round(time.time() - started, 1)
                results[name] = figures
                print(name, json.dumps(figures, ensure_ascii=False, default=str), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="scenario",
                        help="sigkill, redis, postgres (default: all)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count (0.1: a quick look)")
    args = parser.parse_args()
    unknown = set(args.names) - {"sigkill", "redis", "postgres"}
    if unknown:
        parser.error(f"unknown scenario: {', '.join(sorted(unknown))}")
    results = run(args.names, args.scale)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "scale": args.scale}
    for figures in results.values():
        figures.update(machine=machine, run_at=time.strftime("%Y-%m-%d %H:%M"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("faults.json" if args.scale == 1.0 else f"faults-scale-{args.scale:g}.json")
    # A run of some scenarios keeps the last figures of the others.
    stored = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**stored, **results}, ensure_ascii=False, indent=2, default=str))
    failed = {name: {k: f[k] for k in ("errors", "lost", "duplicates")}
              for name, f in results.items() if f["errors"] or f["lost"] or f["duplicates"]}
    print(f"wrote {path}; " + (f"FAILED: {failed}" if failed else "errors, lost and duplicates: all 0"))
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
