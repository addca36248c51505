"""Time the downstream suite end to end: ``geoembed benchmark --quick``, the default suite and ``--full``.

    python benchmarks/run_downstream.py                     # quick and default, cold cache, in benchmarks/results/
    python benchmarks/run_downstream.py --only quick
    python benchmarks/run_downstream.py --only full         # every task and probe (no budget; its time is documented)
    python benchmarks/run_downstream.py --warm              # reuse the embedding cache of an earlier run

Budget: quick under 3 minutes, the default suite (the README's main job, ``geoembed benchmark``) under 10 minutes on
a 2-core CPU; ``--full`` has no budget.
Each run is the real command in a subprocess (imports, embedding, probes, reports), with a fresh embedding cache
unless ``--warm``. The machine's load average is recorded beside each time, because a shared machine makes any
timing pessimistic.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from geoembed.atomic import atomic_write

HERE = Path(__file__).resolve().parent
BUDGET_SECONDS = {"quick": 180, "default": 600, "full": None}
COMMANDS = {"quick": ["--quick"], "default": [], "full": ["--full"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(COMMANDS), nargs="+", default=["quick", "default"])
    parser.add_argument("--output", type=Path, default=HERE / "results", help="parent folder of the reports")
    parser.add_argument("--warm", action="store_true", help="keep the user's embedding cache (default: cold)")
    parser.add_argument("--jobs", type=int, default=-1)
    args = parser.parse_args(argv)
    timings = {}
    for name in args.only:
        out = args.output / f"downstream_{name}"
        env = dict(os.environ)
        with tempfile.TemporaryDirectory() as cache:
            if not args.warm:
                env["GEOEMBED_CACHE_DIR"] = cache
            command = [sys.executable, "-m", "geoembed", "benchmark", *COMMANDS[name], "--output", str(out),
                       "--no-resume", "--jobs", str(args.jobs)]
            load_before = os.getloadavg()
            cpu_before = _children_cpu_seconds()
            start = time.perf_counter()
            subprocess.run(command, env=env, check=True)
            seconds = time.perf_counter() - start
            cpu_seconds = _children_cpu_seconds() - cpu_before
        budget = BUDGET_SECONDS[name]
        timings[name] = {
            "command": " ".join(["geoembed", *command[3:]]), "seconds": round(seconds, 1),
            "budget_seconds": budget, "within_budget": budget is None or seconds < budget,
            "cpu_seconds": round(cpu_seconds, 1), "cpu_count": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()], "cold_cache": not args.warm,
        }
        print(f"{name}: {seconds:.1f} s wall, {cpu_seconds:.1f} CPU s (budget {budget or 'none'} s), load average before "
              f"{load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / "downstream_timings.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps({**previous, **timings}, indent=1) + "\n")
    return 0 if all(t["within_budget"] for t in timings.values()) else 1


def _children_cpu_seconds() -> float:
    """User + system CPU time of finished child processes (the command and the worker processes it waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(main())
