"""The one way benchmarks here run `pytest --gradcam-specs` in a fresh process and read back its wall time and peak RSS."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Runs pytest in the child and prints one line the parent reads: timing and peak memory of that process alone.
RUNNER = """
import resource, sys, time
import pytest
started = time.perf_counter()
code = pytest.main(sys.argv[1:])
elapsed = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"BENCHMARK elapsed={elapsed:.3f} peak_mb={peak_mb:.1f} exit={int(code)}")
"""


@dataclass(frozen=True)
class PluginRun:
    elapsed_s: float
    peak_mb: float
    outcome: str  # pytest's closing line, e.g. "3 failed, 253 passed in 9.1s"


def run_plugin(spec: Path, report: Path, directory: Path, extra: list[str]) -> PluginRun:
    """One audit of ``spec`` with its report at ``report``; stops the benchmark if the cases did not really run."""
    command = [sys.executable, "-c", RUNNER, "--gradcam-specs", str(spec), "--gradcam-report", str(report), "-q",
               "-p", "no:cacheprovider", "-p", "no:randomly", *extra]
    completed = subprocess.run(command, cwd=directory, capture_output=True, text=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, check=False)
    line = next((line for line in completed.stdout.splitlines() if line.startswith("BENCHMARK ")), None)
    if line is None:
        raise SystemExit(f"plugin run failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    fields = dict(item.split("=") for item in line.split()[1:])
    if fields["exit"] not in ("0", "1"):  # 0: all passed, 1: some cases failed; anything else means pytest did not run them
        raise SystemExit(f"pytest exited {fields['exit']}:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    # pytest's own closing line proves the cases really ran; an error among them makes the figures meaningless.
    outcome = next((text.strip("= ") for text in reversed(completed.stdout.splitlines()) if " in " in text and "passed" in text), "?")
    if "error" in outcome:
        raise SystemExit(f"cases errored, the figures would be meaningless: {outcome}")
    return PluginRun(float(fields["elapsed"]), float(fields["peak_mb"]), outcome)
