"""Benchmark that a huge audit stays flat: peak RSS of `pytest --gradcam-specs` for 1,000 and 10,000 cases of the
shipped example, and the size of the 10,000-case HTML report.

Each run writes one spec of N cases reusing the shipped 64 px images and boxes (ids made unique), runs pytest on it
in a subprocess and reads the subprocess's own peak RSS (ru_maxrss). Goals: the 10,000-case peak is at most 300 MB
above the 1,000-case peak, and its report is at most 20 MB (it shows every failure and a sample of passes).

    python benchmarks/flat_memory.py            # N = 1,000 and 10,000 (long on 2 cores: run it in the background)
    python benchmarks/flat_memory.py --quick    # N = 200 and 1,000, to check the script works
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _pytest_run import run_plugin  # benchmarks/ is on sys.path when a benchmark runs as a script
from _results import write_results
from _table import print_rows

REPOSITORY = Path(__file__).resolve().parents[1]
SHIPPED_SPEC = REPOSITORY / "specs" / "stripes_honest.yaml"

RSS_GOAL_MB = 300.0
HTML_GOAL_MB = 20.0


@dataclass(frozen=True)
class RunFigures:
    cases: int
    elapsed_s: float
    peak_mb: float
    html_bytes: int
    pictures: int
    outcome: str


def write_spec(directory: Path, count: int) -> Path:
    """N cases cycling over the shipped honest suite's cases (their images, boxes and thresholds), ids unique.

    The spec's gate is left out: it is one entry whatever N is, and its transplant pairs would add time only.
    """
    import yaml

    shipped = yaml.safe_load(SHIPPED_SPEC.read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = []
    for index in range(count):
        case = dict(shipped["cases"][index % len(shipped["cases"])])
        case["id"] = f"{case['id']}-copy-{index:05d}"
        case["image"] = str((SHIPPED_SPEC.parent / case["image"]).resolve())
        cases.append(case)
    document = {key: value for key, value in shipped.items() if key not in ("cases", "gate")}
    document["model"] = str((SHIPPED_SPEC.parent / shipped["model"]).resolve())
    document["cases"] = cases
    path = directory / f"suite-{count}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def run_figures(spec: Path, directory: Path, count: int) -> RunFigures:
    report = directory / f"report-{spec.stem}" / "index.html"
    run = run_plugin(spec, report, directory, ["--gradcam-progress-every", "0"])
    pictures_folder = report.parent / "cases"
    pictures = sum(1 for _ in pictures_folder.iterdir()) if pictures_folder.is_dir() else 0
    return RunFigures(count, run.elapsed_s, run.peak_mb, report.stat().st_size if report.exists() else 0, pictures, run.outcome)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = 200 and 1,000 instead of 1,000 and 10,000")
    parser.add_argument("--keep", type=Path, default=None, help="write the runs here (kept) instead of a temporary folder")
    parser.add_argument("--sizes", type=int, nargs=2, metavar=("SMALL", "LARGE"), default=None, help="other case counts")
    arguments = parser.parse_args()
    small, large = arguments.sizes or ((200, 1000) if arguments.quick else (1000, 10000))
    with tempfile.TemporaryDirectory() as temporary:
        directory = arguments.keep or Path(temporary)
        directory.mkdir(parents=True, exist_ok=True)
        runs = {}
        for count in (small, large):
            runs[count] = run_figures(write_spec(directory, count), directory, count)
            print(f"  done N={count}: {runs[count]}", flush=True)
    rows = {}
    for count, run in runs.items():
        rows[f"peak RSS, N={count} (MB)"] = f"{run.peak_mb:.0f}"
    rows[f"peak RSS difference (goal <= {RSS_GOAL_MB:.0f} MB)"] = f"{runs[large].peak_mb - runs[small].peak_mb:.0f}"
    rows[f"HTML report, N={large} (MB, goal <= {HTML_GOAL_MB:.0f})"] = f"{runs[large].html_bytes / 1_000_000:.2f}"
    for count, run in runs.items():
        rows[f"HTML report, N={count} (MB)"] = f"{run.html_bytes / 1_000_000:.2f}"
        rows[f"picture files, N={count}"] = str(run.pictures)
        rows[f"wall time, N={count} (s)"] = f"{run.elapsed_s:.1f}"
        rows[f"cases/s, N={count}"] = f"{run.cases / run.elapsed_s:.1f}"
        rows[f"pytest outcome, N={count}"] = run.outcome
    figures: dict[str, object] = {"small_n": small, "large_n": large}
    for label, run in (("small", runs[small]), ("large", runs[large])):
        figures |= {f"{label}_rss_mb": run.peak_mb, f"{label}_html_mb": run.html_bytes / 1_000_000, f"{label}_pictures": run.pictures,
                    f"{label}_wall_s": run.elapsed_s, f"{label}_cases_per_s": run.cases / run.elapsed_s}
    figures["rss_difference_mb"] = runs[large].peak_mb - runs[small].peak_mb
    print_rows(f"flat-memory benchmark: {SHIPPED_SPEC.name} cases repeated, {sys.platform}, {os.cpu_count()} CPUs", rows)
    write_results("flat_memory", figures)


if __name__ == "__main__":
    main()
