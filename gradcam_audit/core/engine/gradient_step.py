"""The compiled computation of one batch: forward pass, captured activations, scores and their gradients."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gradcam_audit.core.engine.capture import is_probability_distribution, record_attention, record_forward
from gradcam_audit.core.engine.model_call import call_model
from gradcam_audit.errors import ModelError

if TYPE_CHECKING:
    from gradcam_audit.core.engine.cam_engine import CamEngine


def _classification_scores(engine: CamEngine, raw_output: Any, recorded_logits: Any) -> tuple[Any, Any, Any]:
    """A classifier's (B, C) logits and probabilities, and whether its output already was a softmax."""
    import tensorflow as tf

    output = tf.cast(engine.select_output(raw_output), tf.float32)
    logits = tf.cast(recorded_logits, tf.float32) if recorded_logits is not None else None
    output_is_probability = tf.constant(False)
    if engine.squash is not None:
        probabilities = output
        if logits is None:
            logits = output
    else:
        logits = output
        probabilities = tf.nn.softmax(output) if output.shape[-1] != 1 else tf.sigmoid(output)
        if engine.may_be_probability:
            output_is_probability = is_probability_distribution(output)
            probabilities = tf.where(output_is_probability, output, probabilities)
    if output.shape[-1] == 1:
        # One sigmoid unit: present it as two classes, so target 0 explains "negative" (−logit).
        logits = tf.concat([-logits, logits], axis=-1)
        probabilities = tf.concat([1.0 - probabilities, probabilities], axis=-1)
    return logits, probabilities, output_is_probability


def gradient_step(engine: CamEngine, images: Any, targets: Any, with_gradients: bool, with_attention: bool = False,
                  with_contrast: bool = False, task_inputs: Any = None) -> tuple[Any, ...]:
    """One batch through the model on a gradient tape (traced by tf.function in CamEngine).

    Returns (activations, gradients, scores, probabilities, chosen targets, output-is-probability), then the
    attention tensors and the contrast class's gradients when asked for, then, for a segmentation or detection
    engine, the predicted class and the task's extras (core/engine/targets.py; ``task_inputs`` is its (B, D) input).
    """
    import tensorflow as tf

    watched_attention = engine.attention_plan().layers if with_attention else ()
    # The contrast class (the best-scoring other class) needs a second gradient from the same tape.
    with tf.GradientTape(persistent=with_contrast) as tape:
        with record_forward(
            engine.layer_choice.layer, engine.output_layer, engine.use_logits, tape, engine.layer_choice.capture
        ) as recording, record_attention(list(watched_attention), tape if with_gradients else None) as attention:
            raw_output = call_model(engine.model, images)
            if recording.activations is None:
                raise ModelError(f"layer {engine.layer_choice.path!r} was not called by the model's forward pass; choose another layer")
            task_outputs: tuple[Any, ...] = ()
            if engine.task is None:
                logits, probabilities, output_is_probability = _classification_scores(engine, raw_output, recording.logits)
                predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
            else:
                # Segmentation / detection: the raw output reduced to one (B, C) row per image (core/engine/targets.py).
                logits, probabilities, predicted, task_extras = engine.task.scores(engine, raw_output, recording.logits, task_inputs, images)
                output_is_probability = tf.constant(False)
                task_outputs = (predicted, *task_extras)
            score_matrix = logits if engine.use_logits else probabilities
            chosen = tf.where(targets < 0, predicted, targets)
            total = tf.reduce_sum(tf.gather(score_matrix, chosen, batch_dims=1))
            if with_contrast:
                others = tf.where(tf.one_hot(chosen, tf.shape(score_matrix)[-1]) > 0, tf.fill(tf.shape(score_matrix), -np.inf), score_matrix)
                contrast = tf.argmax(others, axis=-1, output_type=tf.int32)
                contrast_total = tf.reduce_sum(tf.gather(score_matrix, contrast, batch_dims=1))
        activations = recording.activations
    scores = [tf.cast(probabilities_of_heads, tf.float32) for probabilities_of_heads in attention.scores]
    for path, head_scores in zip(attention.paths, scores):
        if head_scores.shape.rank != 4 or head_scores.shape[-1] != head_scores.shape[-2]:
            raise ModelError(f"attention layer {path!r} gives scores of shape {tuple(head_scores.shape)}; rollout needs self-attention (B, heads, T, T)")

    def gradients_of(score_total: Any) -> tuple[Any, Any]:
        sources = [activations] + (list(attention.scores) if with_attention else [])
        found = tape.gradient(score_total, sources)
        activation_gradients = found[0] if found[0] is not None else tf.zeros_like(activations)
        weighted = None
        if with_attention:
            weighted = tf.stack([
                tf.reduce_mean(tf.nn.relu((tf.cast(g, tf.float32) if g is not None else tf.zeros_like(a)) * a), axis=1)
                for g, a in zip(found[1:], scores)
            ])
        return activation_gradients, weighted

    if with_gradients:
        gradients, gradient_attention = gradients_of(total)
    else:
        gradients, gradient_attention = tf.zeros_like(activations), None
    outputs: tuple[Any, ...] = (activations, gradients, score_matrix, probabilities, chosen, output_is_probability)
    if with_attention:
        mean_attention = tf.stack([tf.reduce_mean(head_scores, axis=1) for head_scores in scores])
        # Only what the method reads crosses to NumPy: (L, B, T, T) is 9 MB per ViT-Tiny image pair of arrays.
        outputs += (mean_attention,) if gradient_attention is None else (mean_attention, gradient_attention)
    if with_contrast:
        contrast_gradients, contrast_attention = gradients_of(contrast_total)
        outputs += (contrast, contrast_gradients)
        if with_attention:
            outputs += (contrast_attention,)
    return outputs + task_outputs
