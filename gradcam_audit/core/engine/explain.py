"""The engine's entry point: explain(model, images) → one Explanation per image, computed in batches."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from gradcam_audit.core.engine.capture import activation_name, is_probability_distribution, record_calls, record_forward
from gradcam_audit.core.engine.degenerate import degenerate_reason
from gradcam_audit.core.engine.layers import LayerChoice, auto_layer, iter_layers, resolve_layer
from gradcam_audit.core.engine.mapping import Geometry, fit_image, plan_geometry, upsample_heatmap
from gradcam_audit.core.engine.methods import CamBatch, CamMethod, get_method
from gradcam_audit.core.engine.preprocessing import preprocess_function
from gradcam_audit.core.images import read_rgb
from gradcam_audit.core.spec.model import Preprocess
from gradcam_audit.core.spec.suggest import did_you_mean, listing
from gradcam_audit.errors import ModelError

PREDICTED = -1  # target placeholder: explain whatever class the model predicts

# A final softmax the engine cannot see (inside a subclassed model's call, a Lambda): said this way when the
# output is a probability distribution both on the engine's test inputs and on the batch explained.
_UNREACHABLE_LOGIT = "probability (the model's output is already a softmax; its logit cannot be reached)"
_OUTPUT_IS_PROBABILITY = "probability (the model's output is already a softmax)"


@dataclass(frozen=True)
class Explanation:
    """One image's explanation.

    Attributes:
        heatmap: (h, w) map at the layer's resolution, after ReLU.
        heatmap_full: (H, W) map upsampled to the original image (zero where the model saw nothing).
        scores: (num_classes,) the score differentiated (logits by default).
        probabilities: (num_classes,) class probabilities.
        predicted_index / target_index: argmax of the scores / the class explained.
        layer / layer_reason / method / score_kind: what produced the map, and why.
        degenerate: why the map cannot be scored, or None.
        geometry: how the original image was fitted into the model's input.
    """

    heatmap: np.ndarray
    heatmap_full: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    predicted_index: int
    target_index: int
    layer: str
    layer_reason: str
    method: str
    score_kind: str
    degenerate: str | None
    geometry: Geometry


@dataclass(frozen=True)
class _BatchOutputs:
    activations: np.ndarray
    gradients: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    targets: np.ndarray
    output_is_probability: bool


def _model_outputs(model: Any) -> list[Any]:
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return []
    return list(outputs or [])


def _output_layer(tensor: Any) -> Any | None:
    history = getattr(tensor, "_keras_history", None)
    while history is not None:
        operation = history.operation
        inner_outputs = getattr(operation, "outputs", None) if isinstance(getattr(operation, "layers", None), list) else None
        if not inner_outputs:
            return operation
        history = getattr(inner_outputs[history.tensor_index], "_keras_history", None)
    return None


class CamEngine:
    """Explains one model at one layer and output; compiled once, reused for every batch."""

    def __init__(self, model: Any, *, layer: str = "auto", output: str | int = 0, score: str = "logit") -> None:
        import tensorflow as tf

        # A weak reference: the engine cache is keyed weakly by the model, and a strong one here would keep
        # every model ever explained alive.
        self._model_reference = weakref.ref(model)
        outputs = _model_outputs(model)
        self.output_index = self._resolve_output(outputs, output)
        self.output_layer = _output_layer(outputs[self.output_index]) if outputs else None
        self.multi_output = len(outputs) > 1
        last_dimension = outputs[self.output_index].shape[-1] if outputs else None
        # A single sigmoid unit is presented as two classes (negative, positive).
        self.num_classes = None if last_dimension is None else max(int(last_dimension), 2)
        self.input_shape = self._input_shape()
        self.use_logits = score == "logit"
        self.layer_choice = self._choose_layer(layer)
        self.squash = activation_name(self.output_layer) if self.output_layer is not None else None
        # Without a softmax/sigmoid the engine can see, the output may still be one (tf.nn.softmax in a
        # subclassed call): then each batch checks it again, and such an output is never softmaxed twice.
        self.may_be_probability = self.squash is None and self._output_looks_like_probability()
        if self.squash and self.use_logits:
            self.score_kind = f"logit (input of the final {self.squash})"
        elif self.squash:
            self.score_kind = f"probability (output of the final {self.squash})"
        elif self.use_logits:
            self.score_kind = "logit (model output, no final softmax)"
        else:
            self.score_kind = "probability (softmax of the model output)"
        height, width, channels = self.input_shape
        signature = [tf.TensorSpec((None, height, width, channels), tf.float32), tf.TensorSpec((None,), tf.int32)]
        self._with_gradients = tf.function(lambda images, targets: self._step(images, targets, True), input_signature=signature)
        self._forward_only = tf.function(lambda images, targets: self._step(images, targets, False), input_signature=signature)

    @property
    def model(self) -> Any:
        model = self._model_reference()
        if model is None:
            raise ModelError("the model of this engine has been deleted")
        return model

    # -- set-up -------------------------------------------------------------------------------------

    def _resolve_output(self, outputs: list[Any], output: str | int) -> int:
        if isinstance(output, int):
            if outputs and not 0 <= output < len(outputs):
                raise ModelError(f"output index {output} is out of range: model {self.model.name!r} has {len(outputs)} output(s)")
            return output
        names = [getattr(_output_layer(tensor), "name", str(index)) for index, tensor in enumerate(outputs)]
        names_from_model = list(getattr(self.model, "output_names", []) or [])
        for candidates in (names_from_model, names):
            if output in candidates:
                return candidates.index(output)
        raise ModelError(f"model {self.model.name!r} has no output {output!r}{did_you_mean(output, names)}; outputs: {listing(names)}")

    def _input_shape(self) -> tuple[int | None, int | None, int]:
        shape = None
        try:
            inputs = self.model.inputs
            if inputs:
                shape = tuple(inputs[0].shape)
        except (AttributeError, ValueError):
            shape = None
        if shape is None:
            build_shape = getattr(self.model, "_build_shapes_dict", None) or {}
            for value in build_shape.values():
                shape = tuple(value)
                break
        if shape is None or len(shape) != 4:
            raise ModelError(
                f"model {self.model.name!r} does not declare a 4-D image input (got {shape}); "
                "build it with keras.Input((height, width, channels)) or call it once on an image batch before saving"
            )
        return (shape[1], shape[2], int(shape[3] or 3))

    def _choose_layer(self, layer: str) -> LayerChoice:
        if layer != "auto":
            return resolve_layer(self.model, layer)
        height, width, channels = self.input_shape
        dummy = np.zeros((1, height or 64, width or 64, channels), dtype=np.float32)
        with record_calls(list(iter_layers(self.model))) as recording:
            self.model(dummy, training=False)
        return auto_layer(self.model, self.output_index, recording.calls)

    def _output_looks_like_probability(self) -> bool:
        """Whether the output rows are probability distributions on a black and a noise image."""
        height, width, channels = self.input_shape
        noise = np.random.default_rng(0).uniform(0.0, 1.0, (height or 64, width or 64, channels))
        dummy = np.stack([np.zeros_like(noise), noise]).astype(np.float32)
        try:
            output = self._select_output(self.model(dummy, training=False))
        except Exception:  # noqa: BLE001 - only a hint: a model that cannot run on it fails, readably, on its real batch
            return False
        return bool(is_probability_distribution(output))

    def output_kind(self, output_is_probability: bool) -> str:
        """The score kind of one batch: the engine's own, unless the output turned out to be a softmax already."""
        if not output_is_probability:
            return self.score_kind
        return _UNREACHABLE_LOGIT if self.use_logits else _OUTPUT_IS_PROBABILITY

    # -- computation --------------------------------------------------------------------------------

    def _select_output(self, outputs: Any) -> Any:
        if isinstance(outputs, dict):
            # model.outputs (which output_index indexes) follows output_names, not the dict's insertion order.
            names = list(getattr(self.model, "output_names", None) or [])
            if len(names) == len(outputs) and names[self.output_index] in outputs:
                return outputs[names[self.output_index]]
            import keras

            return keras.tree.flatten(outputs)[self.output_index]
        if isinstance(outputs, (list, tuple)):
            return outputs[self.output_index]
        return outputs

    def _step(self, images: Any, targets: Any, with_gradients: bool) -> tuple[Any, ...]:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            with record_forward(self.layer_choice.layer, self.output_layer, self.use_logits, tape) as recording:
                output = tf.cast(self._select_output(self.model(images, training=False)), tf.float32)
                if recording.activations is None:
                    raise ModelError(f"layer {self.layer_choice.path!r} was not called by the model's forward pass; choose another layer")
                logits = tf.cast(recording.logits, tf.float32) if recording.logits is not None else None
                output_is_probability = tf.constant(False)
                if self.squash is not None:
                    probabilities = output
                    if logits is None:
                        logits = output
                else:
                    logits = output
                    probabilities = tf.nn.softmax(output) if output.shape[-1] != 1 else tf.sigmoid(output)
                    if self.may_be_probability:
                        output_is_probability = is_probability_distribution(output)
                        probabilities = tf.where(output_is_probability, output, probabilities)
                if output.shape[-1] == 1:
                    # One sigmoid unit: present it as two classes, so target 0 explains "negative" (−logit).
                    logits = tf.concat([-logits, logits], axis=-1)
                    probabilities = tf.concat([1.0 - probabilities, probabilities], axis=-1)
                score_matrix = logits if self.use_logits else probabilities
                predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
                chosen = tf.where(targets < 0, predicted, targets)
                total = tf.reduce_sum(tf.gather(score_matrix, chosen, batch_dims=1))
            activations = recording.activations
        gradients = tape.gradient(total, activations) if with_gradients else tf.zeros_like(activations)
        if gradients is None:
            gradients = tf.zeros_like(activations)
        return activations, gradients, score_matrix, probabilities, chosen, output_is_probability

    def run_batch(self, inputs: np.ndarray, targets: np.ndarray, method: CamMethod) -> _BatchOutputs:
        step = self._with_gradients if method.uses_gradients else self._forward_only
        # asarray, not astype: the batch is usually float32 already, and a 32×224×224×3 copy is ~3 ms per batch.
        activations, gradients, scores, probabilities, chosen, output_is_probability = step(
            np.asarray(inputs, dtype=np.float32), np.asarray(targets, dtype=np.int32)
        )
        return _BatchOutputs(
            activations=np.asarray(activations, dtype=np.float64),
            gradients=np.asarray(gradients, dtype=np.float64),
            scores=np.asarray(scores, dtype=np.float64),
            probabilities=np.asarray(probabilities, dtype=np.float64),
            targets=np.asarray(chosen),
            output_is_probability=bool(output_is_probability),
        )

    def class_probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """(N, num_classes) class probabilities of (N, H, W, C) model inputs: one compiled forward pass."""
        targets = np.full(len(inputs), PREDICTED, dtype=np.int32)
        probabilities = self._forward_only(np.asarray(inputs, dtype=np.float32), targets)[3]
        return np.asarray(probabilities, dtype=np.float64)


_ENGINES: weakref.WeakKeyDictionary[Any, dict[tuple[str, str | int, str], CamEngine]] = weakref.WeakKeyDictionary()


def engine_for(model: Any, *, layer: str = "auto", output: str | int = 0, score: str = "logit") -> CamEngine:
    """The cached engine for (model, layer, output, score): compiled once, no retracing on later calls."""
    engines = _ENGINES.setdefault(model, {})
    key = (layer, output, score)
    if key not in engines:
        engines[key] = CamEngine(model, layer=layer, output=output, score=score)
    return engines[key]


def resolve_target(target: str | int | None, labels: Sequence[str] | None) -> int:
    if target is None:
        return PREDICTED
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if target < 0:
            raise ModelError(f"target index {target} is negative")
        return int(target)
    if labels is None:
        raise ModelError(f"target {target!r} is a class name but no labels were given; pass labels=[...] or a class index")
    if target not in labels:
        raise ModelError(f"unknown class {target!r}{did_you_mean(str(target), labels)}; labels: {listing(labels, 30)}")
    return list(labels).index(cast(str, target))  # a bool is never among the labels: rejected above


def _as_image(image: Any, channels: int) -> np.ndarray:
    if isinstance(image, (str, Path)):
        return read_rgb(Path(image), channels)
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.ndim != 3:
        raise ModelError(f"expected an image of shape (H, W, C), got {array.shape}")
    if array.shape[2] != channels and array.shape[2] in (1, 3) and channels in (1, 3):
        array = np.repeat(array, 3, axis=2) if channels == 3 else array.mean(axis=2, keepdims=True)
    return array


def explain(
    model: Any,
    images: Sequence[Any],
    *,
    layer: str = "auto",
    targets: str | int | None | Sequence[str | int | None] = None,
    method: str = "gradcam",
    batch_size: int = 32,
    labels: Sequence[str] | None = None,
    output: str | int = 0,
    score: str = "logit",
    preprocess: Preprocess | str = "none",
    resize: str = "stretch",
) -> list[Explanation]:
    """Explain each image with a CAM method, batched.

    Args:
        model: a Keras 3 model (Functional, Sequential, nested backbone, subclassed, multi-output).
        images: (H, W, C) arrays with 0–255 pixel values, or image paths; sizes may differ.
        layer: "auto" or a layer name / nested path ("backbone/out_relu").
        targets: None (predicted class), a class index or name, or one of those per image.
        method: one of gradcam, gradcam++, hirescam, xgradcam, layercam, scorecam, eigencam.
        batch_size: images per forward pass (Score-CAM: masked images per forward pass).
        labels: class names in output order, to name targets.
        output: output name or index for multi-output models.
        score: "logit" (pre-softmax, default) or "probability".
        preprocess: a Preprocess, or a name (scale01, none, a keras.applications family).
        resize: stretch | center_crop | letterbox; heatmaps are mapped back to each original image.

    Returns:
        One Explanation per image, in order.

    Raises:
        ModelError: bad layer, output, target or target count.
    """
    cam_method = get_method(method)
    images = list(images)
    target_list: list[str | int | None] = (
        list(targets) if isinstance(targets, (list, tuple)) else [cast("str | int | None", targets)] * len(images)
    )
    if len(target_list) != len(images):
        raise ModelError(f"got {len(target_list)} targets for {len(images)} images: give one target per image, or a single target for all")
    resolved_targets = [resolve_target(target, labels) for target in target_list]
    engine = engine_for(model, layer=layer, output=output, score=score)
    if isinstance(preprocess, str):
        from gradcam_audit.core.method_names import PREPROCESS_FAMILIES

        preprocess = Preprocess("family" if preprocess in PREPROCESS_FAMILIES else "builtin", preprocess)
    transform = preprocess_function(preprocess)
    height, width, channels = engine.input_shape
    arrays = [_as_image(image, channels) for image in images]
    geometries = [
        plan_geometry((array.shape[1], array.shape[0]), (width or array.shape[1], height or array.shape[0]), resize) for array in arrays
    ]
    results: list[Explanation | None] = [None] * len(images)
    # Images of different sizes can share a batch only when the model resizes them to one input size.
    groups: dict[tuple[int, int], list[int]] = {}
    for index, geometry in enumerate(geometries):
        groups.setdefault(geometry.input_size, []).append(index)
    for indices in groups.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            inputs = transform(np.stack([fit_image(arrays[i], geometries[i]) for i in chunk]))
            chunk_targets = np.array([resolved_targets[i] for i in chunk], dtype=np.int32)
            if engine.num_classes is not None:
                bad = [int(t) for t in chunk_targets if t >= engine.num_classes]
                if bad:
                    raise ModelError(
                        f"target class {bad[0]} is out of range: the model's output has {engine.num_classes} classes "
                        f"(0..{engine.num_classes - 1})"
                    )
            outputs = engine.run_batch(inputs, chunk_targets, cam_method)
            batch = CamBatch(
                inputs=np.asarray(inputs, dtype=np.float32),
                activations=outputs.activations,
                gradients=outputs.gradients,
                targets=outputs.targets,
                class_probabilities=engine.class_probabilities,
                batch_size=batch_size,
            )
            raw_maps = cam_method.raw_maps(batch)
            score_kind = engine.output_kind(outputs.output_is_probability)
            for position, index in enumerate(chunk):
                raw = raw_maps[position]
                reason = degenerate_reason(raw)
                heatmap = np.maximum(np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0), 0.0) if reason is None else np.zeros_like(raw)
                results[index] = Explanation(
                    heatmap=heatmap,
                    heatmap_full=upsample_heatmap(heatmap, geometries[index]),
                    scores=outputs.scores[position],
                    probabilities=outputs.probabilities[position],
                    predicted_index=int(np.argmax(outputs.scores[position])),
                    target_index=int(outputs.targets[position]),
                    layer=engine.layer_choice.path,
                    layer_reason=engine.layer_choice.reason,
                    method=cam_method.name,
                    score_kind=score_kind,
                    degenerate=reason,
                    geometry=geometries[index],
                )
    return [result for result in results if result is not None]
