"""How much slower than a bare forward pass is explaining a batch? Prints ms/image per model and method.

Compares, for keras.applications models with random weights (weights=None, so nothing is downloaded):
  (a) the bare compiled forward pass, tf.function(model(x, training=False)), batched;
  (b) gradcam_audit's explain(...) on pre-loaded uint8 arrays of the input size, batched;
  (c) the classic one-image-at-a-time recipe: sub-model to [layer.output, model.output] + eager GradientTape.
Also the 2nd vs 10th explain call (retracing would make later calls slow) and resident memory before/after
repeated calls (it should stay flat). Run it on a quiet machine; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from _results import write_results  # benchmarks/ is on sys.path when a benchmark runs as a script

MODELS: dict[str, tuple[str, int]] = {
    "MobileNetV2": ("MobileNetV2", 224),
    "ResNet50": ("ResNet50", 224),
    "Xception": ("Xception", 299),
}


def resident_megabytes() -> float:
    """Current resident set size of this process (Linux /proc; peak RSS from getrusage elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="utf-8") as statm:
            resident_pages = int(statm.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_seconds(function: Callable[[], Any], repeats: int) -> float:
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def benchmark_model(name: str, batch_size: int, batches: int, repeats: int, classic_images: int) -> dict[str, float]:
    import keras
    import tensorflow as tf

    from gradcam_audit.core.engine.explain import engine_for, explain

    constructor, size = MODELS[name]
    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, constructor)(weights=None, input_shape=(size, size, 3))
    generator = np.random.default_rng(0)
    images = [generator.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(batch_size)]
    batch = tf.constant(np.stack(images).astype(np.float32))

    forward = tf.function(lambda inputs: model(inputs, training=False))
    forward(batch)  # trace
    bare = median_seconds(lambda: forward(batch).numpy(), batches) / batch_size

    explain(model, images, batch_size=batch_size)  # trace
    engine = median_seconds(lambda: explain(model, images, batch_size=batch_size), batches) / batch_size

    layer = engine_for(model).layer_choice.layer
    sub_model = keras.Model(model.inputs, [layer.output, model.output])

    def classic(image: np.ndarray) -> np.ndarray:
        with tf.GradientTape() as tape:
            activations, predictions = sub_model(image[np.newaxis].astype(np.float32))
            score = predictions[:, int(tf.argmax(predictions[0]))]
        gradients = tape.gradient(score, activations)
        weights = tf.reduce_mean(gradients, axis=(1, 2))
        heatmap = tf.nn.relu(tf.einsum("bhwk,bk->bhw", activations, weights))
        return tf.image.resize(heatmap[..., tf.newaxis], (size, size)).numpy()

    classic(images[0])  # warm up
    count = min(classic_images, batch_size)
    classic_seconds = median_seconds(lambda: [classic(image) for image in images[:count]], max(1, batches // 2)) / count

    call_seconds: list[float] = []
    rss_before = resident_megabytes()
    for _ in range(repeats):
        start = time.perf_counter()
        explain(model, images, batch_size=batch_size)
        call_seconds.append(time.perf_counter() - start)
    rss_after = resident_megabytes()
    return {
        "bare_ms": bare * 1000,
        "engine_ms": engine * 1000,
        "classic_ms": classic_seconds * 1000,
        "second_call_ms": call_seconds[1] * 1000 / batch_size if repeats >= 2 else float("nan"),
        "tenth_call_ms": call_seconds[9] * 1000 / batch_size if repeats >= 10 else float("nan"),
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "traces": float(engine_for(model)._with_gradients.experimental_get_tracing_count()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=5, help="timed batches per measurement (median taken)")
    parser.add_argument("--repeats", type=int, default=50, help="explain calls for the retracing and memory check")
    parser.add_argument("--classic-images", type=int, default=8, help="images timed with the one-at-a-time recipe")
    arguments = parser.parse_args()
    names = [name.strip() for name in arguments.models.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")

    import tensorflow as tf

    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, batch {arguments.batch_size}, "
          f"{arguments.batches} timed batches, {arguments.repeats} repeats")
    header = (
        f"{'model':<12} {'(a) bare':>9} {'(b) engine':>10} {'(c) classic':>11} {'b/a':>6} {'c/a':>6} "
        f"{'2nd call':>9} {'10th call':>9} {'traces':>6} {'RSS before':>10} {'RSS after':>9}"
    )
    print(header)
    print("-" * len(header))
    figures: dict[str, object] = {"batch_size": arguments.batch_size, "repeats": arguments.repeats}
    for name in names:
        row = benchmark_model(name, arguments.batch_size, arguments.batches, arguments.repeats, arguments.classic_images)
        figures |= {f"{name.lower()}_{key}": value for key, value in row.items()}
        figures |= {f"{name.lower()}_engine_ratio": row["engine_ms"] / row["bare_ms"],
                    f"{name.lower()}_classic_ratio": row["classic_ms"] / row["bare_ms"]}
        print(
            f"{name:<12} {row['bare_ms']:>9.2f} {row['engine_ms']:>10.2f} {row['classic_ms']:>11.2f} "
            f"{row['engine_ms'] / row['bare_ms']:>6.2f} {row['classic_ms'] / row['bare_ms']:>6.2f} "
            f"{row['second_call_ms']:>9.2f} {row['tenth_call_ms']:>9.2f} {row['traces']:>6.0f} "
            f"{row['rss_before_mb']:>8.0f}MB {row['rss_after_mb']:>7.0f}MB",
            flush=True,
        )
    print("times in ms/image; goal: b/a ≤ 1.15, 10th call ≈ 2nd call, traces = 1, RSS after ≈ RSS before")
    write_results("engine_speed", figures)


if __name__ == "__main__":
    main()
