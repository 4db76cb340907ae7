"""How much slower than a bare forward pass is explaining a ViT-Tiny batch with rollout? Prints the ratio.

A ViT-Tiny-sized keras_hub ViTBackbone (224×224, 16-pixel patches, 12 blocks, 3 heads, width 192, MLP 768) with
random weights and a class-token head: (a) the bare compiled forward pass, tf.function(model(x, training=False)),
batched; (b) explain(..., method=M) on pre-loaded uint8 arrays (attention recorded during the model's own forward
pass, rollout carried as one row per image). Goal for rollout: b/a ≤ 1.3. Needs keras_hub (test extra).
Run it on a quiet machine: timings under load are noisy. See benchmarks/README.md.
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


def median_seconds(function: Callable[[], Any], repeats: int) -> float:
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def vit_tiny(size: int) -> Any:
    import keras
    import keras_hub

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.ViTBackbone(image_shape=(size, size, 3), patch_size=16, num_layers=12, num_heads=3,
                                            hidden_dim=192, mlp_dim=768)
    return keras_hub.models.ViTImageClassifier(backbone=backbone, num_classes=1000, preprocessor=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=3, help="timed batches per measurement (median)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--methods", default="rollout,gradrollout,gradcam")
    arguments = parser.parse_args()
    import tensorflow as tf

    from gradcam_audit.core.engine.explain import explain

    model = vit_tiny(arguments.size)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (arguments.batch_size, arguments.size, arguments.size, 3), dtype=np.uint8)
    inputs = tf.constant(images.astype(np.float32) / 255.0)
    forward = tf.function(lambda batch: model(batch, training=False))
    forward(inputs)  # trace
    print(f"ViT-Tiny {arguments.size}×{arguments.size}, batch {arguments.batch_size}")
    figures: dict[str, object] = {"size": arguments.size, "batch_size": arguments.batch_size}
    for method in arguments.methods.split(","):
        def run(method: str = method) -> Any:
            return explain(model, list(images), method=method, preprocess="scale01", batch_size=arguments.batch_size)

        run()  # trace and compile once
        # Interleaved, so a load change on a shared machine hits both sides alike.
        bare_times, explain_times = [], []
        for _ in range(arguments.batches):
            bare_times.append(median_seconds(lambda: forward(inputs).numpy(), 1))
            explain_times.append(median_seconds(run, 1))
        bare, seconds = statistics.median(bare_times), statistics.median(explain_times)
        print(f"  bare forward {1000 * bare / arguments.batch_size:7.1f} ms/image; explain {method:12s} {1000 * seconds / arguments.batch_size:7.1f} "
              f"ms/image; ratio {seconds / bare:.2f}" + ("   (goal ≤ 1.3)" if method == "rollout" else ""))
        figures |= {f"{method}_bare_ms": 1000 * bare / arguments.batch_size,
                    f"{method}_explain_ms": 1000 * seconds / arguments.batch_size, f"{method}_ratio": seconds / bare}
    write_results("vit_speed", figures)


if __name__ == "__main__":
    main()
