"""Benchmark of the causal checks on a generated MobileNetV2 suite (224×224, ``weights=None``: nothing downloaded).

Prints, from one run:

* the model's bare batched forward pass per image (the engine's compiled forward-only function);
* the marginal cost per case of one ``max_effect`` region: (T with max_effect − T without) / N, audits run by
  ``run_audit`` on the same N cases, and its ratio to the bare forward pass (goal ≤ 2×);
* the transplant gate's cost per pair, and its ratio to the bare forward pass;
* the weight-randomisation gate's cost per case (for information: it explains every case twice).

    python benchmarks/causal_speed.py            # N = 128 cases, 64 transplant pairs
    python benchmarks/causal_speed.py --quick    # N = 32, 16 pairs, to check the script works
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _results import write_results  # benchmarks/ is on sys.path when a benchmark runs as a script

IMAGE_SIZE = 224
POOL = 32


def build_model(directory: Path) -> Path:
    import keras

    model = keras.applications.MobileNetV2(weights=None, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), classes=10)
    path = directory / "mobilenet_v2.keras"
    model.save(path)
    return path


def write_images(directory: Path) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for index in range(POOL):
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        picture = Image.fromarray(coarse).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
        path = directory / f"image-{index:03d}.jpg"
        picture.save(path, quality=90)
        paths.append(path)
    return paths


def write_spec(directory: Path, name: str, cases: int, images: list[Path], *, effect: bool) -> Path:
    import yaml

    rng = np.random.default_rng(1)
    listed = []
    for index in range(cases):
        width, height = (int(value) for value in rng.integers(30, 90, 2))
        x_min, y_min = (int(value) for value in rng.integers(0, IMAGE_SIZE - 90, 2))
        tag: dict[str, object] = {"name": "tag", "box": [4, 4, 40, 40], "max_mass": 1.0, **({"max_effect": 1.0} if effect else {})}
        listed.append({"id": f"case-{index:04d}", "image": images[index % len(images)].name, "target": f"c{index % 2}",
                       "regions": [tag, {"name": "object", "box": [x_min, y_min, x_min + width, y_min + height], "min_mass": 0.0}]})
    document = {"model": "mobilenet_v2.keras", "preprocess": "mobilenet_v2", "labels": [f"c{i}" for i in range(10)], "cases": listed}
    path = directory / name
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")  # the YAML emitter, never string formatting
    return path


def bare_forward_ms(model_path: Path, images: list[Path], batch_size: int, repeats: int) -> float:
    import keras

    from gradcam_audit.core.engine.explain import engine_for
    from gradcam_audit.core.engine.preprocessing import preprocess_function
    from gradcam_audit.core.files.images import read_rgb
    from gradcam_audit.core.spec.model import Preprocess

    model = keras.saving.load_model(model_path)
    engine = engine_for(model)
    transform = preprocess_function(Preprocess("family", "mobilenet_v2"))
    batch = transform(np.stack([read_rgb(images[index % len(images)], 3).astype(np.float32) for index in range(batch_size)]))
    engine.class_probabilities(batch)  # trace once
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        engine.class_probabilities(batch)
        timings.append((time.perf_counter() - started) / batch_size)
    return float(np.median(timings)) * 1000.0


def audit_seconds(spec: Path, batch_size: int) -> float:
    from gradcam_audit.core.audit import run_audit

    best = float("inf")
    for _ in range(2):  # the faster of two runs: one slow run (a busy core) would skew the marginal
        started = time.perf_counter()
        ledger = run_audit([spec], batch_size=batch_size)
        best = min(best, time.perf_counter() - started)
        # Untrained weights: some heatmaps are degenerate (a failed case), but every case must have been computed.
        assert all(case.status != "error" for case in ledger.cases), [case.reason for case in ledger.cases if case.status == "error"][:3]
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=128)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="N = 32 cases, 16 pairs")
    arguments = parser.parse_args()
    cases, pairs = (32, 16) if arguments.quick else (arguments.cases, arguments.pairs)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from gradcam_audit.core.run.runner import AuditRunner
    from gradcam_audit.core.spec.load import load_spec
    from gradcam_audit.core.spec.model import Gate

    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        model_path = build_model(directory)
        images = write_images(directory)
        forward_ms = bare_forward_ms(model_path, images, arguments.batch_size, repeats=5)
        plain = write_spec(directory, "plain.yaml", cases, images, effect=False)
        causal = write_spec(directory, "causal.yaml", cases, images, effect=True)
        audit_seconds(plain, arguments.batch_size)  # warm-up: model load and tracing are not per-case costs
        plain_s = audit_seconds(plain, arguments.batch_size)
        causal_s = audit_seconds(causal, arguments.batch_size)
        marginal_ms = (causal_s - plain_s) / cases * 1000.0

        spec = load_spec(plain)
        runner = AuditRunner(arguments.batch_size)
        transplant_gate = Gate(transplant="tag", max_transplant_flip_rate=1.0, transplant_pairs=pairs)
        runner.gate_evidence(spec, transplant_gate, "gradcam")  # warm-up
        started = time.perf_counter()
        evidence = runner.gate_evidence(spec, transplant_gate, "gradcam")
        transplant_s = time.perf_counter() - started
        assert evidence.error is None, evidence.error
        used = len(evidence.transplant)
        # The transplant gate also runs one forward pass over every case (their predictions before the paste).
        per_pair_ms = transplant_s / used * 1000.0
        started = time.perf_counter()
        randomized = runner.gate_evidence(spec, Gate(max_randomization_similarity=1.0), "gradcam")
        randomization_s = time.perf_counter() - started
        assert randomized.error is None, randomized.error

    print(f"MobileNetV2 {IMAGE_SIZE}×{IMAGE_SIZE}, {cases} cases, batch {arguments.batch_size}")
    print(f"{'measure':<58} {'value':>10} {'× forward':>10}")
    print(f"{'bare forward pass per image (ms)':<58} {forward_ms:>10.2f} {1.0:>10.2f}")
    print(f"{'audit without max_effect (s)':<58} {plain_s:>10.2f}")
    print(f"{'audit with one max_effect region per case (s)':<58} {causal_s:>10.2f}")
    print(f"{'marginal cost of max_effect per case (ms)  [goal ≤ 2×]':<58} {marginal_ms:>10.2f} {marginal_ms / forward_ms:>10.2f}")
    print(f"{f'transplant gate per pair ({used} pairs) (ms)':<58} {per_pair_ms:>10.2f} {per_pair_ms / forward_ms:>10.2f}")
    print(f"{'weight-randomisation gate per case (ms)':<58} {randomization_s / cases * 1000.0:>10.2f} "
          f"{randomization_s / cases * 1000.0 / forward_ms:>10.2f}")
    write_results("causal_speed", {
        "cases": cases, "pairs": used, "batch_size": arguments.batch_size, "forward_ms": forward_ms, "plain_s": plain_s,
        "causal_s": causal_s, "effect_marginal_ms": marginal_ms, "effect_ratio": marginal_ms / forward_ms,
        "transplant_pair_ms": per_pair_ms, "transplant_ratio": per_pair_ms / forward_ms,
        "randomization_case_ms": randomization_s / cases * 1000.0,
        "randomization_ratio": randomization_s / cases * 1000.0 / forward_ms})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
