"""Cost of explaining a segmenter and a detector, as a multiple of their bare forward pass.

Models: keras-hub's DeepLabV3ImageSegmenter and RetinaNetObjectDetector on a tiny ResNet (random weights, 64×64), and
the shipped example segmenter / grid detector when present (models/segmentation_honest.keras, detection_honest.keras).
Each number is the median of REPEATS (15) timed calls after one warm-up call (the compiled steps are traced then), for a
batch of BATCH images: `explain(...)` with a pixel / box target per image versus `model(batch)` in a tf.function.

    python benchmarks/task_speed.py            # 15 timed calls per number
    python benchmarks/task_speed.py --quick    # 3, to check the script works
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

import numpy as np  # noqa: E402
from _results import write_results  # benchmarks/ is on sys.path when a benchmark runs as a script

BATCH = 8
REPEATS = 15
SIZE = 64


def _median_seconds(call: Any) -> float:
    call()
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _resnet() -> Any:
    import keras_hub

    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 8, 8, 8], stackwise_num_blocks=[1, 1, 1, 1],
        stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block", use_pre_activation=False, image_shape=(SIZE, SIZE, 3))


KEYS = {"keras-hub DeepLabV3 (tiny ResNet)": "deeplab", "keras-hub RetinaNet (tiny ResNet)": "retinanet",
        "example segmenter": "example_segmenter", "example grid detector": "example_detector"}


def measure(name: str, model: Any, head: Any, targets: list[Any]) -> tuple[str, float, float]:
    import tensorflow as tf

    from gradcam_audit.core.engine.explain import explain

    images = [np.random.default_rng(index).uniform(0, 255, (SIZE, SIZE, 3)).astype(np.uint8) for index in range(BATCH)]
    batch = np.stack(images).astype(np.float32) / 255.0
    forward = tf.function(lambda inputs: model(inputs, training=False))
    bare = _median_seconds(lambda: forward(batch))
    explained = _median_seconds(lambda: explain(model, images, targets=[1] * BATCH, preprocess="scale01", batch_size=BATCH, task=head,
                                                task_targets=targets))
    return name, bare, explained


def main() -> None:
    global REPEATS
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 timed calls per number instead of 15")
    if parser.parse_args().quick:
        REPEATS = 3
    import keras
    import keras_hub

    from gradcam_audit.core.engine.detections import keras_hub_decoder, load_decoder
    from gradcam_audit.core.engine.targets import BoxTarget, DetectionHead, PixelTarget, SegmentationHead

    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[16:48, 16:48] = True
    pixels = [PixelTarget(mask)] * BATCH
    boxes = [BoxTarget((16.0, 16.0, 48.0, 48.0), 0.1)] * BATCH
    rows = []
    backbone = keras_hub.models.DeepLabV3Backbone(image_encoder=_resnet(), low_level_feature_key="P2", spatial_pyramid_pooling_key="P4",
                                                  upsampling_size=4, dilation_rates=[1, 2], projection_filters=8)
    segmenter = keras_hub.models.DeepLabV3ImageSegmenter(backbone=backbone, num_classes=3)
    rows.append(measure("keras-hub DeepLabV3 (tiny ResNet)", segmenter, SegmentationHead(), pixels))
    detector = keras_hub.models.RetinaNetObjectDetector(
        backbone=keras_hub.models.RetinaNetBackbone(image_encoder=_resnet(), min_level=3, max_level=5, use_p5=False), num_classes=3)
    rows.append(measure("keras-hub RetinaNet (tiny ResNet)", detector, DetectionHead(keras_hub_decoder(detector), "keras_hub"), boxes))
    models = REPOSITORY / "models"
    if (models / "segmentation_honest.keras").is_file():
        rows.append(measure("example segmenter", keras.saving.load_model(models / "segmentation_honest.keras"), SegmentationHead(), pixels))
    if (models / "detection_honest.keras").is_file():
        model = keras.saving.load_model(models / "detection_honest.keras")
        decoder = load_decoder("grid_decoder:decode", model, REPOSITORY / "specs" / "tasks")
        rows.append(measure("example grid detector", model, DetectionHead(decoder, "grid_decoder:decode"), boxes))
    print(f"| model | forward pass, batch of {BATCH} | explain (Grad-CAM), batch of {BATCH} | multiple |")
    print("|---|---|---|---|")
    for name, bare, explained in rows:
        print(f"| {name} | {bare * 1000:.1f} ms | {explained * 1000:.1f} ms | {explained / bare:.1f}× |")
    figures: dict[str, object] = {"batch": BATCH, "repeats": REPEATS, "size": SIZE}
    for name, bare, explained in rows:
        figures |= {f"{KEYS[name]}_bare_ms": bare * 1000, f"{KEYS[name]}_explain_ms": explained * 1000, f"{KEYS[name]}_ratio": explained / bare}
    write_results("task_speed", figures)


if __name__ == "__main__":
    main()
