"""Benchmark of the whole `pytest --gradcam-specs` run (report included) on a generated MobileNetV2 suite.

Prints, from one run: the model's bare batched forward time per image (timed before and after the runs), the
wall time of the plugin for N = 256 and N = 512 cases with the serial executor (each batch computed when asked)
and the pipelined local one (the default: the next batch is computed while this one's pictures are drawn), the
marginal cost per case (T512 − T256) / 256 and its ratio to the bare forward time (goal for local ≤ 1.1×), and the peak RSS of the plugin process for N = 200 and N = 2000 (goal ≤ 300 MB
apart: results are streamed, full-resolution heatmaps are not kept).

    python benchmarks/plugin_speed.py                 # full run (several minutes on 2 cores)
    python benchmarks/plugin_speed.py --quick         # smaller N, to check the script works
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _pytest_run import run_plugin  # benchmarks/ is on sys.path when a benchmark runs as a script
from _results import write_results
from _table import print_rows

IMAGE_SIZE = 224
POOL = 48  # distinct images; cases reuse them with different boxes

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
        # Smooth random colour fields (photo-like compression), not white noise.
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        picture = Image.fromarray(coarse).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
        path = directory / f"image-{index:03d}.jpg"
        picture.save(path, quality=90)
        paths.append(path)
    return paths


def write_spec(directory: Path, model: Path, images: list[Path], count: int) -> Path:
    import yaml

    rng = np.random.default_rng(count)
    cases = []
    for index in range(count):
        x_min, y_min = (int(value) for value in rng.integers(0, IMAGE_SIZE - 64, 2))
        width, height = (int(value) for value in rng.integers(32, 64, 2))
        cases.append({"id": f"case-{index:05d}", "image": str(images[index % len(images)]),
                      "regions": [{"name": "object", "box": [x_min, y_min, x_min + width, y_min + height], "min_lift": 0.5}]})
    path = directory / f"suite-{count}.yaml"
    path.write_text(yaml.safe_dump({"model": str(model), "preprocess": "mobilenet_v2", "cases": cases}, sort_keys=False),
                    encoding="utf-8")  # the YAML emitter, never string formatting: paths may hold any character
    return path


def bare_forward_ms_per_image(model_path: Path, batch: int = 32, repeats: int = 5) -> float:
    import keras
    import tensorflow as tf

    model = keras.saving.load_model(model_path, compile=False)
    forward = tf.function(lambda images: model(images, training=False))
    images = np.random.default_rng(1).uniform(-1, 1, (batch, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    forward(images)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        forward(images).numpy()
        times.append(time.perf_counter() - started)
    return float(np.median(times)) / batch * 1000.0


def timed_run(spec: Path, directory: Path, extra: list[str]) -> tuple[float, float, str]:
    run = run_plugin(spec, directory / f"report-{spec.stem}" / "index.html", directory, extra)
    return run.elapsed_s, run.peak_mb, run.outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = 32/64 and 20/200 instead of 256/512 and 200/2000")
    parser.add_argument("--report-images", default="inline", choices=("inline", "files"))
    arguments = parser.parse_args()
    small, large = (32, 64) if arguments.quick else (256, 512)
    memory_small, memory_large = (20, 200) if arguments.quick else (200, 2000)
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        model = build_model(directory)
        images = write_images(directory)
        bare_before = bare_forward_ms_per_image(model)
        # Each timed size runs twice per executor and the faster run counts: one slow run (a busy core) would skew it.
        timings: dict[tuple[str, int], tuple[float, float, str]] = {}
        for executor in ("serial", "local"):
            extra = ["--gradcam-report-images", arguments.report_images, "--gradcam-executor", executor]
            for count in (small, large):
                spec = write_spec(directory, model, images, count)
                timings[(executor, count)] = min((timed_run(spec, directory, extra) for _ in range(2)), key=lambda run: run[0])
        extra = ["--gradcam-report-images", arguments.report_images]
        memory_runs = {count: timed_run(write_spec(directory, model, images, count), directory, extra) for count in (memory_small, memory_large)}
        memory = {count: run[1] for count, run in memory_runs.items()}
        bare_after = bare_forward_ms_per_image(model)
    # The forward pass is timed before and after the runs; the mean of both is the yardstick (the machine is shared).
    bare = (bare_before + bare_after) / 2
    figures: dict[str, object] = {"bare_before_ms": bare_before, "bare_after_ms": bare_after, "small_n": small, "large_n": large,
                                  "memory_small_n": memory_small, "memory_large_n": memory_large,
                                  "report_images": arguments.report_images}
    rows = {
        "bare forward, batch 32, before the runs (ms/image)": f"{bare_before:.2f}",
        "bare forward, batch 32, after the runs (ms/image)": f"{bare_after:.2f}",
    }
    for executor in ("serial", "local"):
        marginal = (timings[(executor, large)][0] - timings[(executor, small)][0]) / (large - small) * 1000.0
        goal = " (goal <= 1.1)" if executor == "local" else ""
        figures |= {f"{executor}_small_s": timings[(executor, small)][0], f"{executor}_large_s": timings[(executor, large)][0],
                    f"{executor}_marginal_ms": marginal, f"{executor}_ratio": marginal / bare,
                    f"{executor}_ratio_before": marginal / bare_before}
        rows |= {
            f"{executor}: pytest run, N={small} (s)": f"{timings[(executor, small)][0]:.1f}",
            f"{executor}: pytest run, N={large} (s)": f"{timings[(executor, large)][0]:.1f}",
            f"{executor}: marginal cost per case (T{large} - T{small}) / {large - small} (ms)": f"{marginal:.2f}",
            f"{executor}: marginal / bare forward{goal}": f"{marginal / bare:.2f}",
        }
    rows |= {
        f"peak RSS, N={memory_small} (MB)": f"{memory[memory_small]:.0f}",
        f"peak RSS, N={memory_large} (MB)": f"{memory[memory_large]:.0f}",
        "peak RSS difference (goal <= 300 MB)": f"{memory[memory_large] - memory[memory_small]:.0f}",
    }
    figures |= {"rss_small_mb": memory[memory_small], "rss_large_mb": memory[memory_large],
                "rss_difference_mb": memory[memory_large] - memory[memory_small]}
    for (executor, count), run in timings.items():
        rows[f"pytest outcome, {executor}, N={count}"] = run[2]
    for count, run in memory_runs.items():
        rows[f"pytest outcome, N={count}"] = run[2]
    print_rows(f"plugin benchmark: MobileNetV2 {IMAGE_SIZE}x{IMAGE_SIZE}, weights=None, report images {arguments.report_images}", rows)
    write_results("plugin_speed", figures)


if __name__ == "__main__":
    main()
