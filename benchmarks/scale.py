"""Scale benchmark: images per second for the local runner and for Ray with 1 and 2 workers, Ray's overhead per
image, and a projection for N workers.

The suite is the shipped example (the honest stripes CNN, 64×64 images, the shipped cases cycled to N, causal
checks included): MobileNetV2 at 224 px makes a 2-core run take too long to repeat. Ray runs on a local cluster
with num_cpus=2, started once; each measurement is one `ray_outcomes` call, so it includes the actors' start and
model load, as a real run does.

    python benchmarks/scale.py            # N = 384 cases
    python benchmarks/scale.py --quick    # N = 48, to check the script works
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

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
    from gradcam_audit.core.audit import plan_audit

    jobs = [case.job for case in plan_audit([spec]).cases if case.job is not None]
    return [jobs[start:start + BATCH_SIZE] for start in range(0, len(jobs), BATCH_SIZE)]  # one spec: one batch key


def time_local(batches: list[list[Any]]) -> tuple[float, int]:
    from gradcam_audit.core.runner import AuditRunner

    runner = AuditRunner(BATCH_SIZE)  # fresh: the model load counts, as each Ray actor's does
    started = time.perf_counter()
    verdicts = [outcome.result.verdict for batch in batches for outcome in runner.compute_batch(batch).values()]
    return time.perf_counter() - started, verdicts.count("error")


def time_ray(batches: list[list[Any]], workers: int) -> tuple[float, int]:
    from gradcam_audit.core.ray_executor import ray_outcomes

    started = time.perf_counter()
    verdicts = [outcome.result.verdict for _, outcome in ray_outcomes(batches, batch_size=BATCH_SIZE, workers=workers)]
    return time.perf_counter() - started, verdicts.count("error")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = 48 cases instead of 384")
    parser.add_argument("--project", default="4,8,16,32", help="worker counts for the projection table")
    arguments = parser.parse_args()
    count = 48 if arguments.quick else 384
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import ray

    with tempfile.TemporaryDirectory() as temporary:
        batches = audit_batches(write_suite(Path(temporary), count))
        ray.init(num_cpus=CPUS, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        try:
            time_ray(batches[:1], 1)  # warm the cluster's worker processes (imports), not the measured actors
            seconds = {"local": time_local(batches), "ray, 1 worker": time_ray(batches, 1), "ray, 2 workers": time_ray(batches, 2)}
        finally:
            ray.shutdown()
    if any(errors for _, errors in seconds.values()):
        raise SystemExit(f"cases errored, timings would be meaningless: {seconds}")
    rate = {name: count / elapsed for name, (elapsed, _) in seconds.items()}
    # Same CPU count: the local runner's TensorFlow uses both cores, as do Ray's two single-CPU workers.
    overhead_ms = 1000.0 / rate["ray, 2 workers"] - 1000.0 / rate["local"]
    per_worker = rate["ray, 1 worker"]
    print(f"scale benchmark: stripes CNN 64x64, N={count} cases, batch {BATCH_SIZE}, local cluster num_cpus={CPUS}")
    print("| executor | wall (s) | images/s |")
    print("|---|---|---|")
    for name, (elapsed, _) in seconds.items():
        print(f"| {name} | {elapsed:.1f} | {rate[name]:.1f} |")
    print(f"\nRay overhead per image vs local at {CPUS} CPUs: {overhead_ms:.2f} ms "
          f"(ray 2 workers {1000.0 / rate['ray, 2 workers']:.2f} ms/image, local {1000.0 / rate['local']:.2f} ms/image)")
    print(f"per-worker rate (ray, 1 worker): {per_worker:.1f} images/s\n")
    print("| workers N | projected images/s (N x per-worker rate) | projected ms/image | of which Ray overhead (ms, as measured) |")
    print("|---|---|---|---|")
    for workers in [int(item) for item in arguments.project.split(",")]:
        projected = workers * per_worker
        print(f"| {workers} | {projected:.1f} | {1000.0 / projected:.2f} | {overhead_ms:.2f} |")


if __name__ == "__main__":
    main()
