"""Cost and localisation of the sweep beyond the boxes (``max_outside_effect``, core/evaluate/outside_sweep.py).

Prints, per model, the sweep's cost per case as a multiple of one bare batched forward pass on the same images
(the engine's compiled forward-only function via ``forward_probabilities``, warmed, median of repeats), and the
images it removed cells from per case (the forward-pass equivalents, ≤ 25 by construction):

* MobileNetV2 224×224 (``weights=None``: nothing downloaded) on generated photo-like images, as configured ("default":
  untrained weights barely react, so it stops after the 16 coarse cells) and with refinement forced ("forced", the
  worst case, 25 images), with ``removal: inpaint`` (the default) and ``mean``;
* the shipped stripes pair (64×64), only the stripes annotated (the corner tag at [2, 2, 9, 9] is not): the share of
  cases failing ``max_outside_effect: 0.15`` and the share of those whose strongest hotspot covers the tag's centre.

    python benchmarks/outside_sweep_cost.py            # 16 MobileNetV2 images, every stripes case
    python benchmarks/outside_sweep_cost.py --quick    # 8 MobileNetV2 images
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
IMAGE_SIZE = 224
TAG_CENTRE = (5.5, 5.5)


def _photos(count: int) -> list[np.ndarray]:
    from PIL import Image

    rng = np.random.default_rng(0)
    pictures = []
    for _ in range(count):
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        pictures.append(np.asarray(Image.fromarray(coarse).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)))
    return pictures


def _timed(function: Any, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return float(np.median(timings))


def measure(model: Any, spec: Any, cases: list[Any], images: list[np.ndarray], batch_size: int, repeats: int) -> dict[str, Any]:
    """Bare forward time per image, sweep time per case, their ratio, and the sweeps themselves."""
    from gradcam_audit.core.engine.forward import forward_probabilities
    from gradcam_audit.core.evaluate.case_evaluation import class_index
    from gradcam_audit.core.evaluate.outside_sweep import measure_outside

    options = {"layer": spec.layer, "output": spec.output, "score": spec.score, "preprocess": spec.preprocess, "resize": spec.resize,
               "resize_filter": spec.fitting_filter, "batch_size": batch_size}
    probabilities = forward_probabilities(model, images, **options)  # warm-up: tracing is not a per-case cost
    targets = [class_index(case.target, spec.labels) if case.target is not None else int(np.argmax(row))
               for case, row in zip(cases, probabilities)]
    before = [float(row[target]) for row, target in zip(probabilities, targets)]
    forward_s = _timed(lambda: forward_probabilities(model, images, **options), repeats) / len(images)
    sweep = lambda: measure_outside(model, spec, cases, images, targets, before, layer=spec.layer, batch_size=batch_size)  # noqa: E731
    outcomes = sweep()
    sweep_s = _timed(sweep, repeats) / len(images)
    cells = [outcome.sweep.cells for outcome in outcomes if outcome.sweep is not None]
    return {"forward_ms": forward_s * 1000, "sweep_ms": sweep_s * 1000, "ratio": sweep_s / forward_s,
            "cells_mean": float(np.mean(cells)), "cells_max": max(cells), "outcomes": outcomes}


def mobilenet(count: int, batch_size: int, repeats: int, removal: str) -> dict[str, Any]:
    import keras
    import yaml

    from gradcam_audit.core.evaluate import outside_sweep
    from gradcam_audit.core.spec.load import parse_spec

    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        model = keras.applications.MobileNetV2(weights=None, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), classes=10)
        images = _photos(count)
        from PIL import Image

        cases = []
        for index, picture in enumerate(images):
            Image.fromarray(picture).save(directory / f"image-{index:03d}.png")
            cases.append({"id": f"case-{index:03d}", "image": f"image-{index:03d}.png",
                          "regions": [{"name": "object", "box": [80, 80, 150, 150], "min_mass": 0.0}]})
        model.save(directory / "mobilenet_v2.keras")
        document = {"model": "mobilenet_v2.keras", "preprocess": "mobilenet_v2", "removal": removal,
                    "defaults": {"max_outside_effect": 0.15}, "cases": cases}
        (directory / "spec.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        parsed = parse_spec(directory / "spec.yaml")
        assert parsed.spec is not None and not parsed.all_problems, parsed.all_problems
        default = measure(model, parsed.spec, list(parsed.spec.cases), images, batch_size, repeats)
        kept = outside_sweep.REFINE_MIN_EFFECT
        outside_sweep.REFINE_MIN_EFFECT = -1.0  # always refine: the worst case
        try:
            forced = measure(model, parsed.spec, list(parsed.spec.cases), images, batch_size, repeats)
        finally:
            outside_sweep.REFINE_MIN_EFFECT = kept
    return {"default": default, "forced": forced}


def stripes(model_name: str, batch_size: int, repeats: int) -> dict[str, Any]:
    import keras

    from gradcam_audit.core.files.images import read_rgb
    from gradcam_audit.core.spec.load import parse_spec
    from tests.outside.stripes import blind_spec

    with tempfile.TemporaryDirectory() as folder:
        shipped = [f"stripes-{index:04d}" for index in range(24)]
        parsed = parse_spec(blind_spec(Path(folder), model_name, cases=tuple(shipped)))
        assert parsed.spec is not None and not parsed.all_problems, parsed.all_problems
        spec = parsed.spec
        model = keras.saving.load_model(spec.model.path)
        images = [read_rgb(case.image, 3) for case in spec.cases]
        figures = measure(model, spec, list(spec.cases), images, batch_size, repeats)
    from gradcam_audit.core.evaluate.outside_sweep import outside_check

    failing = [outcome.sweep for case, outcome in zip(spec.cases, figures["outcomes"])
               if outcome.sweep is not None and (check := outside_check(case, outcome.sweep)) is not None and not check.passed]
    on_tag = [sweep for sweep in failing if sweep.hotspots and sweep.hotspots[0].box[0] <= TAG_CENTRE[0] < sweep.hotspots[0].box[2]
              and sweep.hotspots[0].box[1] <= TAG_CENTRE[1] < sweep.hotspots[0].box[3]]
    figures.update(cases=len(spec.cases), failing=len(failing), on_tag=len(on_tag),
                   top_boxes=sorted({tuple(sweep.hotspots[0].box) for sweep in failing if sweep.hotspots}))
    return figures


def sweep_figures(prefix: str, figures: dict[str, Any]) -> dict[str, object]:
    """The cost figures of one model and mode; per_image: the sweep's cost per edited image ÷ one bare forward pass."""
    return {f"{prefix}_forward_ms": figures["forward_ms"], f"{prefix}_sweep_ms": figures["sweep_ms"], f"{prefix}_ratio": figures["ratio"],
            f"{prefix}_images_mean": figures["cells_mean"], f"{prefix}_images_max": figures["cells_max"],
            f"{prefix}_per_image": figures["ratio"] / figures["cells_mean"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16, help="MobileNetV2 images")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="8 MobileNetV2 images, 1 repeat")
    arguments = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    count, repeats = (8, 1) if arguments.quick else (arguments.images, arguments.repeats)
    from benchmarks._results import write_results
    from benchmarks._table import print_rows

    rows: dict[str, str] = {}
    results: dict[str, object] = {"mobilenet_images": count, "repeats": repeats, "batch_size": arguments.batch_size}
    for name in ("honest", "shortcut"):
        figures = stripes(name, arguments.batch_size, repeats)
        rows[f"stripes {name}: forward ms/image"] = f"{figures['forward_ms']:.2f}"
        rows[f"stripes {name}: sweep ms/case"] = f"{figures['sweep_ms']:.2f}"
        rows[f"stripes {name}: sweep / forward"] = f"{figures['ratio']:.1f}"
        rows[f"stripes {name}: images per case mean / max"] = f"{figures['cells_mean']:.1f} / {figures['cells_max']}"
        rows[f"stripes {name}: cases failing 0.15"] = f"{figures['failing']} of {figures['cases']}"
        rows[f"stripes {name}: top hotspot on the tag"] = f"{figures['on_tag']} of {figures['failing']} {figures['top_boxes']}"
        results |= sweep_figures(f"stripes_{name}", figures)
        results |= {f"stripes_{name}_cases": figures["cases"], f"stripes_{name}_failing": figures["failing"],
                    f"stripes_{name}_on_tag": figures["on_tag"],
                    f"stripes_{name}_top_boxes": "; ".join(str(list(box)) for box in figures["top_boxes"])}
    for removal, mode in (("inpaint", "default"), ("inpaint", "forced"), ("mean", "forced")):
        figures = mobilenet(count, arguments.batch_size, repeats, removal)[mode]
        results |= sweep_figures(f"mobilenet_{removal}_{mode}", figures)
        mode = f"{removal}, {mode}"
        rows[f"MobileNetV2 {mode}: forward ms/image"] = f"{figures['forward_ms']:.2f}"
        rows[f"MobileNetV2 {mode}: sweep ms/case"] = f"{figures['sweep_ms']:.2f}"
        rows[f"MobileNetV2 {mode}: sweep / forward"] = f"{figures['ratio']:.1f}"
        rows[f"MobileNetV2 {mode}: images per case mean / max"] = f"{figures['cells_mean']:.1f} / {figures['cells_max']}"
    print_rows(f"Beyond the boxes: cost per case (batch {arguments.batch_size}, median of {repeats})", rows)
    write_results("outside_sweep_cost", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
