"""Scale benchmark: images per second for the local runner and for Ray with 1 and 2 workers, Ray's overhead per
image, and a projection for N workers.

The suite is the shipped example (the honest stripes CNN, 64×64 images, the shipped cases cycled to N, causal
checks included): MobileNetV2 at 224 px makes a 2-core run take too long to repeat. Ray runs on a local cluster
with num_cpus=2, started once; each measurement is one `ray_outcomes` call, so it includes the actors' start and
model load, as a real run does; each local measurement is a process of its own, Python and TensorFlow start
included. Each executor runs two sizes, which separates its fixed cost per run from its
steady cost per image.

    python benchmarks/scale.py            # N = 96 and 768 cases
    python benchmarks/scale.py --quick    # N = 32 and 96, to check the script works
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _results import write_results  # benchmarks/ is on sys.path when a benchmark runs as a script

REPOSITORY = Path(__file__).resolve().parents[1]
SPEC = REPOSITORY / "specs" / "stripes_honest.yaml"
CPUS = 2
BATCH_SIZE = 32


def write_suite(directory: Path, count: int) -> Path:
    """The shipped honest spec with its cases cycled to `count` (fresh ids, absolute paths), without the gate."""
    import yaml

    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    shipped = document["cases"]
    cases = [{**shipped[index % len(shipped)], "id": f"case-{index:05d}",
              "image": str(SPEC.parent / shipped[index % len(shipped)]["image"])} for index in range(count)]
    document.update(model=str((SPEC.parent / document["model"]).resolve()), cases=cases)
    document.pop("gate", None)
    path = directory / f"suite-{count}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def audit_batches(spec: Path) -> list[list[Any]]:
    from gradcam_audit.core.plan import plan_audit

    jobs = [case.job for case in plan_audit([spec]).cases if case.job is not None]
    return [jobs[start:start + BATCH_SIZE] for start in range(0, len(jobs), BATCH_SIZE)]  # one spec: one batch key


def run_local(spec: Path) -> None:
    """The local runner over the whole suite, in this process (a fresh one: see time_local); prints the error count."""
    from gradcam_audit.core.run.runner import AuditRunner

    runner = AuditRunner(BATCH_SIZE)
    verdicts = [outcome.result.verdict for batch in audit_batches(spec) for outcome in runner.compute_batch(batch).values()]
    print(verdicts.count("error"))


def time_local(spec: Path) -> tuple[float, int]:
    """A local run in a process of its own, as a real run is: Python and TensorFlow start and the model loads once,
    like each Ray actor's, and nothing is left over from an earlier measurement (models are reused in one process)."""
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, __file__, "--run-local", str(spec)], capture_output=True, text=True, check=True)
    return time.perf_counter() - started, int(completed.stdout.strip().splitlines()[-1])


def time_ray(batches: list[list[Any]], workers: int) -> tuple[float, int]:
    from gradcam_audit.core.run.ray_executor import ray_outcomes

    started = time.perf_counter()
    verdicts = [outcome.result.verdict for _, outcome in ray_outcomes(batches, batch_size=BATCH_SIZE, workers=workers)]
    return time.perf_counter() - started, verdicts.count("error")


def fit_line(small: tuple[int, float], large: tuple[int, float]) -> tuple[float, float]:
    """(fixed seconds, seconds per image) of the line through two (cases, seconds) runs of the same executor."""
    (small_count, small_seconds), (large_count, large_seconds) = small, large
    per_image = (large_seconds - small_seconds) / (large_count - small_count)
    return small_seconds - small_count * per_image, per_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = 32 and 96 cases instead of 96 and 768")
    parser.add_argument("--project", default="4,8,16,32", help="worker counts for the projection table")
    parser.add_argument("--run-local", type=Path, help=argparse.SUPPRESS)  # time_local's subprocess
    arguments = parser.parse_args()
    if arguments.run_local:
        run_local(arguments.run_local)
        return
    sizes = (32, 96) if arguments.quick else (96, 768)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import ray

    executors: dict[str, Callable[[Path], tuple[float, int]]] = {
        "local": time_local, "ray, 1 worker": lambda spec: time_ray(audit_batches(spec), 1),
        "ray, 2 workers": lambda spec: time_ray(audit_batches(spec), 2)}
    seconds: dict[str, dict[int, float]] = {name: {} for name in executors}
    with tempfile.TemporaryDirectory() as temporary:
        suites = {count: write_suite(Path(temporary), count) for count in sizes}
        ray.init(num_cpus=CPUS, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        try:
            time_ray(audit_batches(suites[sizes[0]])[:1], 1)  # warm the cluster's worker processes, not the measured actors
            for count in sizes:
                for name, timed in executors.items():
                    elapsed, errors = timed(suites[count])
                    if errors:
                        raise SystemExit(f"{errors} cases errored under {name}: the timings would be meaningless")
                    seconds[name][count] = elapsed
        finally:
            ray.shutdown()
    small, large = sizes
    # Two sizes per executor separate what a run pays once (actors start, each loads the model) from what each
    # image costs once the pipeline flows; N workers pay the first once each, in parallel, and share the second.
    fits = {name: fit_line((small, runs[small]), (large, runs[large])) for name, runs in seconds.items()}
    print(f"scale benchmark: stripes CNN 64x64, N={small} and N={large} cases, batch {BATCH_SIZE}, local cluster num_cpus={CPUS}")
    print(f"| executor | wall N={small} (s) | wall N={large} (s) | images/s at N={large} | fixed cost (s) | steady ms/image | steady images/s |")
    print("|---|---|---|---|---|---|---|")
    figures: dict[str, object] = {"small_n": small, "large_n": large, "batch_size": BATCH_SIZE, "cpus_for_ray": CPUS}
    for name, runs in seconds.items():
        fixed, per_image = fits[name]
        key = {"local": "local", "ray, 1 worker": "ray1", "ray, 2 workers": "ray2"}[name]
        figures |= {f"{key}_small_s": runs[small], f"{key}_large_s": runs[large], f"{key}_images_per_s": large / runs[large],
                    f"{key}_fixed_s": fixed, f"{key}_steady_ms": 1000.0 * per_image, f"{key}_steady_images_per_s": 1.0 / per_image}
        print(f"| {name} | {runs[small]:.1f} | {runs[large]:.1f} | {large / runs[large]:.1f} | {fixed:.1f} | "
              f"{1000.0 * per_image:.2f} | {1.0 / per_image:.1f} |")
    # Same CPU count: the local runner's TensorFlow uses both cores, as do Ray's two single-CPU workers.
    overhead_ms = 1000.0 * (fits["ray, 2 workers"][1] - fits["local"][1])
    worker_fixed, worker_per_image = fits["ray, 1 worker"]
    print(f"\nRay's steady overhead per image vs local at {CPUS} CPUs: {overhead_ms:.2f} ms; "
          f"Ray's fixed cost per run: {worker_fixed:.1f} s (1 worker), {fits['ray, 2 workers'][0]:.1f} s (2 workers)")
    print(f"steady per-worker rate (ray, 1 worker): {1.0 / worker_per_image:.1f} images/s\n")
    figures["ray2_overhead_ms"] = overhead_ms
    print("| workers N | projected steady images/s (N x per-worker rate) | projected wall for 100,000 cases (fixed cost + steady) |")
    print("|---|---|---|")
    for workers in [int(item) for item in arguments.project.split(",")]:
        rate = workers / worker_per_image
        wall = worker_fixed + 100_000 / rate
        print(f"| {workers} | {rate:.1f} | {wall / 60:.1f} min |")
        figures |= {f"projected_{workers}_images_per_s": rate, f"projected_{workers}_minutes": wall / 60}
    write_results("scale", figures)


if __name__ == "__main__":
    main()
