"""Segmentation and detection targets on models small enough to compute by hand: the explained score, the matched
candidate, the probability and the Grad-CAM and Score-CAM maps equal NumPy's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.engine.explain import explain
from gradcam_audit.core.engine.forward import forward_probabilities
from gradcam_audit.core.engine.targets import BoxTarget, DetectionHead, PixelTarget, SegmentationHead
from gradcam_audit.core.spec.model import Preprocess
from tests.engine.test_hand_computed import UPSAMPLE_4_TO_8

# The 4×4 feature map the model sees (one array per channel); the 8×8 image repeats each value over a 2×2 block and
# the model's 2×2 average pooling plus an identity 1×1 conv give these values back exactly.
CHANNEL_ZERO = np.array([[8, 4, 0, 0], [4, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]], dtype=np.float64)
CHANNEL_ONE = np.array([[0, 0, 0, 2], [0, 0, 2, 6], [0, 1, 0, 0], [1, 0, 0, 0]], dtype=np.float64)
FEATURES = np.stack([CHANNEL_ZERO, CHANNEL_ONE], axis=-1)  # (4, 4, 2)
# Per-pixel class logits of the segmenter: feature (2) → class (3), with a bias.
SEGMENT_KERNEL = np.array([[1.0, -0.5, -1.0], [-0.25, 2.0, -3.0]])
SEGMENT_BIAS = np.array([0.0, 0.5, 1.0])
# The grid detector's head: objectness (channel 0) then two class logits, per cell.
DETECT_KERNEL = np.array([[1.0, 1.0, -0.5], [-1.0, -0.25, 2.0]])
DETECT_BIAS = np.array([-0.5, 0.0, 0.0])


def _image() -> np.ndarray:
    return np.kron(FEATURES, np.ones((2, 2, 1))).astype(np.uint8)  # (8, 8, 2), values 0..8


def _model(channels_out: int, kernel: np.ndarray, bias: np.ndarray, name: str) -> Any:
    import keras

    inputs = keras.Input((8, 8, 2), name="image")
    pooled = keras.layers.AveragePooling2D(2, name="blocks")(inputs)
    features = keras.layers.Conv2D(2, 1, use_bias=False, name="features")(pooled)
    head = keras.layers.Conv2D(channels_out, 1, name="head")(features)
    model = keras.Model(inputs, head, name=name)
    model.get_layer("features").set_weights([np.eye(2).reshape(1, 1, 2, 2)])
    model.get_layer("head").set_weights([kernel.reshape(1, 1, 2, channels_out), bias])
    return model


def _softmax(values: np.ndarray) -> np.ndarray:
    shifted = np.exp(values - values.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _grad_cam(gradient_of_features: np.ndarray) -> np.ndarray:
    """Grad-CAM by hand: channel weights are the mean gradient over the 4×4 positions; ReLU of the weighted sum."""
    weights = gradient_of_features.mean(axis=(0, 1))
    return np.maximum(np.einsum("hwk,k->hw", FEATURES, weights), 0.0)


def grid_decoder(raw_output: Any) -> dict[str, Any]:
    """A YOLO-like grid: cell (i, j) is the candidate i·4 + j with the fixed box of its 2×2 input pixels."""
    import keras

    cells = np.array([[2 * j, 2 * i, 2 * j + 2, 2 * i + 2] for i in range(4) for j in range(4)], dtype=np.float32)
    zeros = keras.ops.reshape(raw_output[..., :1], (-1, 16, 1)) * 0.0
    return {"boxes": zeros + cells[np.newaxis], "class_logits": keras.ops.reshape(raw_output[..., 1:], (-1, 16, 2)),
            "objectness": keras.ops.reshape(raw_output[..., 0], (-1, 16))}


@pytest.mark.parametrize("target_class", [0, 1, 2])
def test_segmentation_explains_the_class_logits_summed_over_the_target_pixels(target_class: int) -> None:
    model = _model(3, SEGMENT_KERNEL, SEGMENT_BIAS, "segmenter")
    mask = np.zeros((8, 8), dtype=bool)
    mask[0:4, 0:6] = True  # image pixels → output pixels whose centre (2j+1, 2i+1) lies inside: rows 0–1, columns 0–2
    (explanation,) = explain(model, [_image()], layer="features", targets=[target_class], task=SegmentationHead(),
                             task_targets=[PixelTarget(mask)])
    pixel_logits = FEATURES @ SEGMENT_KERNEL + SEGMENT_BIAS  # (4, 4, 3)
    inside = np.zeros((4, 4), dtype=bool)
    inside[0:2, 0:3] = True
    np.testing.assert_allclose(explanation.scores, pixel_logits[inside].sum(axis=0), rtol=1e-5)
    np.testing.assert_allclose(explanation.probabilities, _softmax(pixel_logits)[inside].mean(axis=0), rtol=1e-5)
    votes = np.bincount(pixel_logits[inside].argmax(axis=-1), minlength=3)
    assert explanation.predicted_index == int(votes.argmax())
    assert explanation.target_index == target_class
    gradient = inside[:, :, np.newaxis] * SEGMENT_KERNEL[:, target_class]  # d(sum of logits)/dA_k(p) = K[k, c] inside
    np.testing.assert_allclose(explanation.heatmap, _grad_cam(gradient), rtol=1e-5, atol=1e-6)


def test_segmentation_probability_of_an_edited_image_uses_the_same_pixels() -> None:
    model = _model(3, SEGMENT_KERNEL, SEGMENT_BIAS, "segmenter_forward")
    mask = np.zeros((8, 8), dtype=bool)
    mask[4:8, 4:8] = True
    image = _image()
    image[4:8, 4:8] = 0  # the region removed
    (row,) = forward_probabilities(model, [image], preprocess=Preprocess("builtin", "none"), task=SegmentationHead(),
                                   task_targets=[PixelTarget(mask)])
    features = np.kron(FEATURES, np.ones((2, 2, 1)))[::2, ::2].copy()
    features[2:4, 2:4] = 0
    expected = _softmax(features @ SEGMENT_KERNEL + SEGMENT_BIAS)[2:4, 2:4].reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(row, expected, rtol=1e-5)


def test_segmentation_auto_layer_is_the_coarsest_map_before_the_decoder_upsamples() -> None:
    import keras

    inputs = keras.Input((16, 16, 3))
    encoded = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="encoder")(inputs)
    deeper = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="bottleneck")(encoded)
    upsampled = keras.layers.UpSampling2D(4, name="upsample")(deeper)
    logits = keras.layers.Conv2D(2, 1, name="pixel_logits")(upsampled)
    model = keras.Model(inputs, logits)
    mask = np.zeros((16, 16), dtype=bool)
    mask[4:12, 4:12] = True
    (explanation,) = explain(model, [np.full((16, 16, 3), 100, np.uint8)], targets=[1], task=SegmentationHead(),
                             task_targets=[PixelTarget(mask)])
    assert explanation.layer == "bottleneck"
    assert "coarsest resolution" in explanation.layer_reason and "4×4×4" in explanation.layer_reason


def test_detection_explains_the_class_logit_of_the_candidate_matching_the_box() -> None:
    model = _model(3, DETECT_KERNEL, DETECT_BIAS, "grid_detector")
    head = DetectionHead(grid_decoder, "tests:grid_decoder")
    (explanation,) = explain(model, [_image()], layer="features", targets=[1], task=head,
                             task_targets=[BoxTarget((2.0, 2.0, 4.0, 4.0))])
    outputs = FEATURES @ DETECT_KERNEL + DETECT_BIAS  # (4, 4, 3): objectness, class 0, class 1
    assert outputs[1, 1, 0] >= 0  # cell (1, 1) is confident
    assert explanation.detection is not None and explanation.detection.candidate == 5  # row 1, column 1
    assert explanation.detection.iou == pytest.approx(1.0)
    assert explanation.detection.box == pytest.approx((2.0, 2.0, 4.0, 4.0))
    assert explanation.target_problem is None
    assert explanation.task_target == BoxTarget((2.0, 2.0, 4.0, 4.0), candidate=5)
    np.testing.assert_allclose(explanation.scores, outputs[1, 1, 1:], rtol=1e-6)
    np.testing.assert_allclose(explanation.probabilities, _softmax(outputs[1, 1, 1:]), rtol=1e-6)
    assert explanation.predicted_index == int(outputs[1, 1, 1:].argmax())
    gradient = np.zeros((4, 4, 2))
    gradient[1, 1] = DETECT_KERNEL[:, 2]  # the class-1 logit of cell (1, 1) depends only on that cell's features
    np.testing.assert_allclose(explanation.heatmap, _grad_cam(gradient), rtol=1e-5, atol=1e-6)


def test_detection_without_a_matching_candidate_is_a_plain_sentence() -> None:
    model = _model(3, DETECT_KERNEL, DETECT_BIAS, "grid_detector_miss")
    head = DetectionHead(grid_decoder, "tests:grid_decoder")
    # A box covering a quarter of the confident cell (0, 0): IoU 0.25; and the cell (0, 3), which is not confident.
    quarter, unconfident = explain(model, [_image(), _image()], layer="features", targets=[0, 0], labels=["car", "bike"], task=head,
                                   task_targets=[BoxTarget((0.0, 0.0, 1.0, 1.0)), BoxTarget((6.0, 0.0, 8.0, 2.0))])
    assert quarter.target_problem == "no detection of class 'car' overlaps the box: best IoU 0.25 (match_iou 0.5)"
    assert quarter.detection is not None and quarter.detection.candidate == 0
    assert unconfident.target_problem == "no detection of class 'car' overlaps the box: best IoU 0.00 (match_iou 0.5)"


def test_detection_keeps_the_candidate_chosen_on_the_unmodified_image() -> None:
    model = _model(3, DETECT_KERNEL, DETECT_BIAS, "grid_detector_fixed")
    head = DetectionHead(grid_decoder, "tests:grid_decoder")
    image = _image()
    image[2:4, 2:4] = 0  # cell (1, 1) emptied: its objectness falls below 0, so it would no longer be matched
    outputs = FEATURES.copy()
    outputs[1, 1] = 0
    outputs = outputs @ DETECT_KERNEL + DETECT_BIAS
    assert outputs[1, 1, 0] < 0
    (row,) = forward_probabilities(model, [image], preprocess=Preprocess("builtin", "none"), task=head,
                                   task_targets=[BoxTarget((2.0, 2.0, 4.0, 4.0), candidate=5)])
    np.testing.assert_allclose(row, _softmax(outputs[1, 1, 1:]), rtol=1e-6)


# -- Score-CAM on a task: the masked passes ask about the same target pixels / the same candidate ----------------------


def _score_cam_masked_images() -> list[np.ndarray]:
    """Score-CAM's masked inputs by hand: each channel bilinearly upsampled to 8×8 (the hand-written matrix of
    test_hand_computed), min-max normalised to [0, 1], times the image."""
    image = _image().astype(np.float64)
    masked = []
    for channel in range(FEATURES.shape[-1]):
        upsampled = UPSAMPLE_4_TO_8 @ FEATURES[:, :, channel] @ UPSAMPLE_4_TO_8.T
        mask = (upsampled - upsampled.min()) / (upsampled.max() - upsampled.min())
        masked.append(image * mask[:, :, np.newaxis])
    return masked


def _features_of(image: np.ndarray) -> np.ndarray:
    """What the model's 2×2 average pooling (and identity 1×1 conv) makes of an (8, 8, 2) image: (4, 4, 2)."""
    return image.reshape(4, 2, 4, 2, 2).mean(axis=(1, 3))


def _weights_behind(heatmap: np.ndarray) -> np.ndarray:
    """The channel weights w with heatmap = sum_k w_k A_k (the two channels are independent, the weights positive)."""
    weights, *_ = np.linalg.lstsq(FEATURES.reshape(16, 2), heatmap.reshape(16), rcond=None)
    return np.asarray(weights)


@pytest.mark.parametrize("target_class", [0, 1, 2])
def test_segmentation_scorecam_weights_are_the_target_pixels_probability_of_each_masked_image(target_class: int) -> None:
    model = _model(3, SEGMENT_KERNEL, SEGMENT_BIAS, "segmenter_scorecam")
    mask = np.zeros((8, 8), dtype=bool)
    mask[0:4, 0:6] = True  # output pixels rows 0–1, columns 0–2 (see the Grad-CAM test above)
    inside = np.zeros((4, 4), dtype=bool)
    inside[0:2, 0:3] = True
    (explanation,) = explain(model, [_image()], layer="features", targets=[target_class], method="scorecam",
                             task=SegmentationHead(), task_targets=[PixelTarget(mask)])
    # Each channel's weight: the class's mean softmax over the target pixels of the masked image, the probability the
    # gradient methods' explanation reports and causal checks measure.
    weights = np.array([_softmax(_features_of(masked) @ SEGMENT_KERNEL + SEGMENT_BIAS)[inside].mean(axis=0)[target_class]
                        for masked in _score_cam_masked_images()])
    np.testing.assert_allclose(_weights_behind(explanation.heatmap), weights, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(explanation.heatmap, np.maximum(np.einsum("hwk,k->hw", FEATURES, weights), 0.0), rtol=1e-5, atol=1e-5)
    assert explanation.method == "scorecam" and explanation.degenerate is None


def test_detection_scorecam_keeps_the_candidate_matched_on_the_unmodified_image() -> None:
    model = _model(3, DETECT_KERNEL, DETECT_BIAS, "grid_detector_scorecam")
    head = DetectionHead(grid_decoder, "tests:grid_decoder")
    (explanation,) = explain(model, [_image()], layer="features", targets=[1], method="scorecam", task=head,
                             task_targets=[BoxTarget((2.0, 2.0, 4.0, 4.0))])
    assert explanation.detection is not None and explanation.detection.candidate == 5
    assert explanation.task_target == BoxTarget((2.0, 2.0, 4.0, 4.0), candidate=5)
    assert explanation.target_problem is None
    outputs_of_masked = [_features_of(masked) @ DETECT_KERNEL + DETECT_BIAS for masked in _score_cam_masked_images()]
    # Masked by channel 1, cell (1, 1) is no longer confident: matching afresh would take candidate 0 (every IoU −1),
    # so this test tells a kept candidate from a re-matched one.
    assert outputs_of_masked[1][1, 1, 0] < 0
    assert not np.isclose(_softmax(outputs_of_masked[1][0, 0, 1:])[1], _softmax(outputs_of_masked[1][1, 1, 1:])[1], atol=1e-3)
    weights = np.array([_softmax(outputs[1, 1, 1:])[1] for outputs in outputs_of_masked])
    np.testing.assert_allclose(_weights_behind(explanation.heatmap), weights, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(explanation.heatmap, np.einsum("hwk,k->hw", FEATURES, weights), rtol=1e-5, atol=1e-5)
