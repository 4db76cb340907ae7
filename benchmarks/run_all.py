"""Runs every benchmark, each in a process of its own, then puts their figures in the docs (benchmarks/figures.py).

    python benchmarks/run_all.py            # the full runs (about 30 min on an idle 2-core machine): rewrites
                                            # benchmarks/results/*.json and every figure the docs quote from them
    python benchmarks/run_all.py --quick    # the smallest sizes, results in a temporary folder: checks the plumbing,
                                            # changes no file (quick timings are not the figures the docs mean)
    python benchmarks/run_all.py --only scale,flat_memory

Run it on an otherwise idle machine: each results file records the load average at its start and end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, so that `benchmarks` imports as a script too
from benchmarks._results import RESULTS_VARIABLE
from benchmarks.figures import REPOSITORY, benchmark_sources, drift, rewrite

# name → (arguments of the full run, arguments of the quick run); the full ones are what the docs' figures mean.
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "engine_speed": ([], ["--models", "MobileNetV2", "--batches", "2", "--repeats", "3", "--classic-images", "4"]),
    "plugin_speed": ([], ["--quick"]),
    "causal_speed": ([], ["--quick"]),
    "vit_speed": ([], ["--batch-size", "4", "--batches", "1"]),
    "task_speed": ([], ["--quick"]),
    "outside_sweep_cost": ([], ["--quick"]),
    "scale": ([], ["--quick"]),
    "flat_memory": ([], ["--sizes", "20", "100"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smallest sizes, results in a temporary folder, no file changed")
    parser.add_argument("--only", default="", help=f"comma-separated, from {', '.join(BENCHMARKS)}")
    arguments = parser.parse_args()
    names = [name for name in arguments.only.split(",") if name] or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    with tempfile.TemporaryDirectory() as temporary:
        results = Path(temporary) if arguments.quick else REPOSITORY / "benchmarks" / "results"
        environment = {**os.environ, RESULTS_VARIABLE: str(results), "TF_CPP_MIN_LOG_LEVEL": "3",
                       "PYTHONPATH": os.pathsep.join(filter(None, (str(REPOSITORY), os.environ.get("PYTHONPATH"))))}
        failed = []
        for name in names:
            command = [sys.executable, str(REPOSITORY / "benchmarks" / f"{name}.py"), *BENCHMARKS[name][arguments.quick]]
            print(f"== {name}: {' '.join(command[1:])}", flush=True)
            started = time.perf_counter()
            completed = subprocess.run(command, cwd=REPOSITORY, env=environment, check=False)
            print(f"== {name}: exit {completed.returncode} after {time.perf_counter() - started:.0f} s", flush=True)
            if completed.returncode != 0 or not (results / f"{name}.json").is_file():
                failed.append(name)
        sources = benchmark_sources(results)
        if arguments.quick:
            # The docs keep the full runs' figures; a quick run only shows which of them its figures would replace.
            print(f"quick run: {len(sources)} results file(s) written; the docs' figures they would change:")
            print("\n".join(drift(sources)) or "none")
        else:
            for path in rewrite(sources):
                print(f"updated {path.relative_to(REPOSITORY)}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (their results files, and the docs' figures from them, are unchanged)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
