"""keras-hub's DeepLabV3ImageSegmenter and RetinaNetObjectDetector with random weights, saved and reloaded from .keras:
`layer: auto` finds a feature map inside the nested backbone, and every case ends passed or failed with its reason."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gradcam_audit.core.audit import run_audit

SIZE = 64


def _resnet() -> Any:
    import keras_hub

    # The smallest ResNet keras-hub accepts (its first stack must have 64 filters); strides give P2..P5.
    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 8, 8, 8], stackwise_num_blocks=[1, 1, 1, 1],
        stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block", use_pre_activation=False, image_shape=(SIZE, SIZE, 3))


def _scene(folder: Path) -> None:
    rng = np.random.default_rng(0)
    picture = rng.uniform(0, 255, (SIZE, SIZE, 3)).astype(np.uint8)
    picture[16:48, 16:48] = (200, 40, 40)
    Image.fromarray(picture).save(folder / "scene.png")


def _audit(folder: Path, header: str, cases: str) -> list[Any]:
    spec = folder / "spec.yaml"
    spec.write_text(textwrap.dedent(header).lstrip() + textwrap.indent(textwrap.dedent(cases).lstrip(), "  "), encoding="utf-8")
    ledger = run_audit([spec])
    return list(ledger.cases)


def test_keras_hub_segmenter_with_layer_auto_ends_every_case_passed_or_failed(tmp_path: Path) -> None:
    import keras
    import keras_hub

    backbone = keras_hub.models.DeepLabV3Backbone(image_encoder=_resnet(), low_level_feature_key="P2", spatial_pyramid_pooling_key="P4",
                                                  upsampling_size=4, dilation_rates=[1, 2], projection_filters=8)
    keras_hub.models.DeepLabV3ImageSegmenter(backbone=backbone, num_classes=3).save(tmp_path / "segmenter.keras")
    assert keras.saving.load_model(tmp_path / "segmenter.keras") is not None  # the reloaded file is what the spec reads
    _scene(tmp_path)
    entries = _audit(tmp_path, """
        model: segmenter.keras
        task: segmentation
        preprocess: scale01
        labels: [background, square, other]
        cases:
        """, """
        - id: square-region
          image: scene.png
          target: {class: square, region: square}
          expect_class: square
          regions:
            - {name: square, box: [16, 16, 48, 48], min_lift: 1.2, max_effect: 1.0}
        - id: corner-box
          image: scene.png
          target: {class: 0, box: [0, 0, 16, 16]}
          regions:
            - {name: corner, box: [0, 0, 16, 16], min_mass: 0.01}
        """)
    assert [entry.status for entry in entries if entry.status not in ("passed", "failed")] == []
    for entry in entries:
        assert entry.status == "passed" or entry.reason, entry.id
        assert entry.result is not None and entry.result.layer.startswith("deep_lab_v3_backbone/")
        assert "coarsest resolution" in entry.result.layer_reason


@pytest.mark.slow
def test_keras_hub_detector_with_layer_auto_ends_every_case_passed_or_failed(tmp_path: Path) -> None:
    import keras_hub

    backbone = keras_hub.models.RetinaNetBackbone(image_encoder=_resnet(), min_level=3, max_level=5, use_p5=False)
    keras_hub.models.RetinaNetObjectDetector(backbone=backbone, num_classes=3).save(tmp_path / "detector.keras")
    _scene(tmp_path)
    entries = _audit(tmp_path, """
        model: detector.keras
        task: detection
        detections: keras_hub
        preprocess: scale01
        labels: [square, circle, other]
        cases:
        """, """
        - id: square-box
          image: scene.png
          target: {class: square, box: [16, 16, 48, 48], match_iou: 0.1}
          regions:
            - {name: square, box: [16, 16, 48, 48], min_lift: 1.2, max_effect: 1.0}
        - id: impossible-box
          image: scene.png
          target: {class: circle, box: [0, 0, 2, 2], match_iou: 0.99}
          regions:
            - {name: corner, box: [0, 0, 8, 8], min_mass: 0.01}
        """)
    assert [entry.status for entry in entries if entry.status not in ("passed", "failed")] == []
    by_id = {entry.id: entry for entry in entries}
    assert by_id["impossible-box"].status == "failed"
    assert by_id["impossible-box"].reason.startswith("no detection of class 'circle' overlaps the box")
    for entry in entries:
        assert entry.result is not None and entry.result.layer.startswith("retina_net_backbone/")
        assert "every detection head depends on" in entry.result.layer_reason
