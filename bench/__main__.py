"""`python -m bench [name…]`: run the benchmarks and write bench/results/<name>.json.

Each benchmark measures our path and its floor in the same run, so the figures are
ratios that mean something on a shared 2-core machine.
"""
from __future__ import annotations

import json
import platform
import sys
import time

from bench import certificates, imports, review_queue, review_routing, scoring_pipeline, submit_endpoint, totals_exports
from bench.common import RESULTS

BENCHMARKS = {"scoring_pipeline": scoring_pipeline.run, "submit_endpoint": submit_endpoint.run,
              "review_routing": review_routing.run, "review_queue": review_queue.run,
              "certificates": certificates.run, "certificate_parts": certificates.run_parts,
              "totals": totals_exports.run_totals,
              "exports": totals_exports.run_exports,
              "imports": imports.run}


def main(names: list[str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in names or list(BENCHMARKS):
        started = time.time()
        result = BENCHMARKS[name]()
        result["machine"] = {"cpus": __import__("os").cpu_count(), "python": platform.python_version()}
        result["seconds"] = round(time.time() - started, 1)
        (RESULTS / f"{name}.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
        print(name, json.dumps(result, ensure_ascii=False, indent=2), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
