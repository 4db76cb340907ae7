"""rollout and gradrollout against a loop-by-loop reference on a hand-sized ViT (3 blocks, 2 heads, 2×2 patches)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.engine.explain import explain
from tests.vit.conftest import reloaded, tiny_vit


def _reference(model: Any, image: np.ndarray, target: int, class_token: bool, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Eager, block by block: attention from each MultiHeadAttention called with return_attention_scores, its
    gradient from a GradientTape; then rollout and Chefer's rule with full matrices, one layer and one row at a time."""
    import keras
    import tensorflow as tf

    embed = keras.Model(model.inputs, model.get_layer("embedded").output)
    attentions, gradients = [], []
    with tf.GradientTape(persistent=True) as tape:
        x = embed(image[np.newaxis], training=False)
        for block in range(1, blocks + 1):
            normed = model.get_layer(f"block{block}_norm1")(x)
            attended, scores = model.get_layer(f"block{block}_attention")(normed, normed, return_attention_scores=True)
            attentions.append(scores)
            x = x + attended
            hidden = model.get_layer(f"block{block}_hidden")(model.get_layer(f"block{block}_norm2")(x))
            x = x + model.get_layer(f"block{block}_mlp")(hidden)
        x = model.get_layer("encoder_norm")(x)
        readout = x[:, 0] if class_token else tf.reduce_mean(x, axis=1)
        score = model.get_layer("logits")(readout)[0, target]
    gradients = [tape.gradient(score, scores) for scores in attentions]
    tokens = int(attentions[0].shape[-1])
    prefix = 1 if class_token else 0
    rollout = np.eye(tokens)
    chefer = np.eye(tokens)
    for scores, gradient in zip(attentions, gradients):
        heads = np.asarray(scores, dtype=np.float64)[0]
        weights = np.asarray(gradient, dtype=np.float64)[0]
        mean = np.zeros((tokens, tokens))
        positive = np.zeros((tokens, tokens))
        for head in range(heads.shape[0]):
            mean += heads[head] / heads.shape[0]
            positive += np.maximum(weights[head] * heads[head], 0.0) / heads.shape[0]
        augmented = mean + np.eye(tokens)
        for row in range(tokens):
            augmented[row] /= augmented[row].sum()
        rollout = augmented @ rollout
        chefer = chefer + positive @ chefer
    readout_row = np.zeros(tokens)
    if class_token:
        readout_row[0] = 1.0
    else:
        readout_row[:] = 1.0 / tokens
    side = int(round((tokens - prefix) ** 0.5))
    return (readout_row @ rollout)[prefix:].reshape(side, side), (readout_row @ chefer)[prefix:].reshape(side, side)


@pytest.mark.parametrize("class_token", [True, False], ids=["class-token", "mean-pooled"])
def test_rollout_and_gradrollout_match_the_loop_reference(tmp_path: Path, class_token: bool) -> None:
    import keras

    keras.utils.set_random_seed(3)
    model = reloaded(tiny_vit(class_token=class_token, name=f"tiny_{class_token}"), tmp_path)
    images = [np.random.default_rng(index).integers(0, 256, (8, 8, 3), dtype=np.uint8) for index in range(3)]
    targets = [0, 2, 1]
    rollouts = explain(model, images, targets=targets, method="rollout", preprocess="scale01", batch_size=2)
    gradrollouts = explain(model, images, targets=targets, method="gradrollout", preprocess="scale01", batch_size=2)
    for image, target, rollout, gradrollout in zip(images, targets, rollouts, gradrollouts):
        expected_rollout, expected_gradrollout = _reference(model, image.astype(np.float32) / 255.0, target, class_token, blocks=3)
        assert rollout.heatmap.shape == (2, 2)
        np.testing.assert_allclose(rollout.heatmap, expected_rollout, atol=1e-6, rtol=0)
        np.testing.assert_allclose(gradrollout.heatmap, np.maximum(expected_gradrollout, 0.0), atol=1e-6, rtol=0)
        assert rollout.degenerate is None and gradrollout.degenerate is None
