"""The one way benchmarks here record their figures: benchmarks/results/<name>.json, which the docs quote (figures.py)."""

from __future__ import annotations

import datetime
import json
import math
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = REPOSITORY / "benchmarks" / "results"
# run_all.py --quick points this elsewhere, so a smoke run never replaces the figures the docs quote.
RESULTS_VARIABLE = "GRADCAM_BENCHMARK_RESULTS"

# The machine's load when the benchmark started: a figure measured under load is read differently.
_LOAD_AT_START = round(os.getloadavg()[0], 2)


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPOSITORY, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPOSITORY, capture_output=True, text=True,
                               check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _plain(value: object) -> object:
    # Strict JSON: a figure that could not be measured is null, never NaN; NumPy scalars become Python numbers.
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value


def write_results(name: str, figures: Mapping[str, object]) -> Path:
    """Writes ``figures`` (flat: name → number or short text) with the date, commit, load and command that measured them."""
    directory = Path(os.environ.get(RESULTS_VARIABLE) or RESULTS)
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "measured": datetime.date.today().isoformat(),
        "commit": _commit(),
        "cpus": os.cpu_count(),
        "load_start": _LOAD_AT_START,
        "load_end": round(os.getloadavg()[0], 2),
        "command": " ".join(["python", f"benchmarks/{name}.py", *sys.argv[1:]]),
        "figures": {key: _plain(value) for key, value in figures.items()},
    }
    path = directory / f"{name}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    temporary.replace(path)
    print(f"wrote {path}")
    return path
