"""The engine's entry point: explain(model, images) → one Explanation per image, computed in batches."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from gradcam_audit.core.engine.capture import (
    activation_name,
    is_probability_distribution,
    record_attention,
    record_calls,
    record_forward,
)
from gradcam_audit.core.engine.degenerate import degenerate_reason
from gradcam_audit.core.engine.discriminative import discrimination_warnings
from gradcam_audit.core.engine.layers import LayerChoice, _output_shape, auto_layer, iter_layers, resolve_layer
from gradcam_audit.core.engine.mapping import Geometry, fit_image, plan_geometry, upsample_heatmap
from gradcam_audit.core.engine.methods import CamBatch, CamMethod, get_method
from gradcam_audit.core.engine.preprocessing import preprocess_function
from gradcam_audit.core.engine.tokens import TokenLayout, attention_layers, infer_layout, is_token_shape, patch_sizes, tokens_to_grid
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
        warnings: why the map, though scorable, may not answer the question (token models: it is not
            class-discriminative or near uniform), each naming the method to try instead; () when none.
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
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _BatchOutputs:
    activations: np.ndarray
    gradients: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    targets: np.ndarray
    output_is_probability: bool
    attention: np.ndarray | None = None
    gradient_attention: np.ndarray | None = None
    contrast_targets: np.ndarray | None = None
    contrast_gradients: np.ndarray | None = None
    contrast_gradient_attention: np.ndarray | None = None


@dataclass(frozen=True)
class AttentionPlan:
    """The MultiHeadAttention layers a forward pass calls, in call order, and how their tokens map to the grid."""

    layers: tuple[tuple[str, Any], ...]
    tokens: TokenLayout

    def describe(self) -> str:
        paths = [path for path, _ in self.layers]
        shown = ", ".join(paths) if len(paths) <= 4 else f"{paths[0]}, {paths[1]}, …, {paths[-1]}"
        readout = "the class token's row" if self.tokens.prefix_tokens > 0 else "the mean of all tokens' rows (no class token)"
        return (
            f"attention of the model's {len(paths)} keras.layers.MultiHeadAttention layer(s) in call order ({shown}), "
            f"recorded during its forward pass, averaged over heads; readout: {readout}; {self.tokens.describe()}"
        )


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

    def __init__(
        self,
        model: Any,
        *,
        layer: str = "auto",
        output: str | int = 0,
        score: str = "logit",
        layer_grid: Sequence[int] | None = None,
        prefix_tokens: int | None = None,
    ) -> None:
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
        self.layer_grid = tuple(layer_grid) if layer_grid is not None else None
        self.prefix_tokens = prefix_tokens
        self._probe_calls: list[tuple[str, tuple[Any, ...]]] | None = None
        self._attention_plan: AttentionPlan | None = None
        self._patch_sizes: tuple[int, ...] | None = None
        self._steps: dict[tuple[bool, bool, bool], Any] = {}
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
        self._signature = signature
        self._with_gradients = tf.function(lambda images, targets: self._step(images, targets, True), input_signature=signature)
        self._forward_only = tf.function(lambda images, targets: self._step(images, targets, False), input_signature=signature)

    @property
    def token_layout(self) -> TokenLayout | None:
        """How the explained layer's tokens map onto the patch grid; None for a 4-D (CNN or Swin-like) layer."""
        return self.layer_choice.tokens

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

    def _probe(self) -> list[tuple[str, tuple[Any, ...]]]:
        """(path, output shape) of every layer and MultiHeadAttention in the order one forward pass calls them."""
        if self._probe_calls is None:
            height, width, channels = self.input_shape
            dummy = np.zeros((1, height or 64, width or 64, channels), dtype=np.float32)
            listed = list(iter_layers(self.model))
            seen = {id(layer) for _, layer in listed}
            listed += [(path, layer) for path, layer in attention_layers(self.model) if id(layer) not in seen]
            with record_calls(listed) as recording:
                self.model(dummy, training=False)
            self._probe_calls = recording.calls
        return self._probe_calls

    def _layout(self, sequence_length: int, what: str) -> TokenLayout | None:
        if self._patch_sizes is None:
            self._patch_sizes = patch_sizes(self.model)
        height, width, _ = self.input_shape
        return infer_layout(
            sequence_length, (height, width), layer_grid=self.layer_grid, prefix_tokens=self.prefix_tokens,
            patch_sizes=self._patch_sizes, what=what,
        )

    def _token_choice(self, choice: LayerChoice, shape: tuple[Any, ...] | None) -> LayerChoice:
        """A named layer with a (batch, tokens, channels) output gets its token layout (or a readable error)."""
        if not is_token_shape(shape):
            return choice
        assert shape is not None  # is_token_shape says so; for mypy
        layout = self._layout(int(shape[1]), f"layer {choice.path!r}")
        if layout is None:
            height, width, _ = self.input_shape
            raise ModelError(
                f"layer {choice.path!r} outputs {int(shape[1])} tokens × {shape[2]}, which fit no patch grid of the "
                f"{height}×{width} input; set `layer_grid: [h, w]` and/or `prefix_tokens: N` in the spec, or name a 4-D layer"
            )
        return replace(choice, tokens=layout, reason=f"{choice.reason}: {layout.describe()}")

    def _choose_layer(self, layer: str) -> LayerChoice:
        if layer != "auto":
            if layer.endswith(":query"):
                return self._query_choice(layer[: -len(":query")], "named in the spec")
            choice = resolve_layer(self.model, layer)
            shape = _output_shape(choice.layer)
            if shape is None or len(shape) == 3:
                shape = dict(self._probe()).get(choice.path, shape)
            return self._token_choice(choice, shape)
        if not attention_layers(self.model) and not any(is_token_shape(_output_shape(item)) for _, item in iter_layers(self.model)):
            # No transformer in sight: the CNN rule alone, exactly as before tokens were supported.
            return auto_layer(self.model, self.output_index, self._probe())
        calls = self._probe()
        choice = auto_layer(self.model, self.output_index, calls, token_layout_of=lambda path, shape: self._layout(int(shape[1]), f"layer {path!r}"))
        return self._after_last_attention(choice, calls)

    def _query_choice(self, path: str, why: str) -> LayerChoice:
        found = dict(attention_layers(self.model))
        if path not in found:
            raise ModelError(
                f"model {self.model.name!r} has no MultiHeadAttention {path!r} for {path + ':query'!r}; attention layers: "
                f"{listing(list(found), 12) or 'none'}"
            )
        shape = dict(self._probe()).get(path)
        choice = LayerChoice(f"{path}:query", found[path], f"{why}: the query input of attention layer {path!r}", capture="query")
        return self._token_choice(choice, shape)

    def _after_last_attention(self, choice: LayerChoice, calls: list[tuple[str, tuple[Any, ...]]]) -> LayerChoice:
        """The tokens the last attention mixes (its query input, pytorch-grad-cam's ViT choice: the last block's
        first norm) when that is the better layer: with a class token, a token layer after the last attention only
        carries the patch tokens past the class token's readout (their gradient is zero); and a token layer called
        before the last attention (a block whose output is a tuple cannot be captured) is not the last one."""
        if choice.tokens is None:
            return choice
        attention_paths = {path for path, _ in attention_layers(self.model)}
        chosen_at = max(index for index, (path, _) in enumerate(calls) if path == choice.path)
        last = [(index, path, shape) for index, (path, shape) in enumerate(calls) if path in attention_paths]
        if not last or not is_token_shape(last[-1][2]) or int(last[-1][2][1]) != choice.tokens.sequence_length:
            return choice
        index, path, _ = last[-1]
        if index > chosen_at:
            why = f"it is called after {choice.path!r}, the last token layer whose output could be captured"
        elif choice.tokens.prefix_tokens > 0:
            why = f"after it the patch tokens no longer reach the class token, so at {choice.path!r} their gradient is zero"
        else:
            return choice
        query = self._query_choice(path, "auto")
        reason = f"auto: the query input of the last attention layer {path!r}: {why}; {query.tokens.describe() if query.tokens else ''}"
        return replace(query, reason=reason)

    def attention_plan(self) -> AttentionPlan:
        """The attention layers rollout methods read, in call order, with their token layout.

        Raises:
            ModelError: the model has no keras.layers.MultiHeadAttention, or its attention is not one self-attention sequence.
        """
        if self._attention_plan is not None:
            return self._attention_plan
        found = attention_layers(self.model)
        if not found:
            raise ModelError(
                f"model {self.model.name!r} has no keras.layers.MultiHeadAttention layer: rollout and gradrollout read the "
                "attention of a transformer; use gradcam (or another CAM method) instead"
            )
        by_path = dict(found)
        calls = [(path, shape) for path, shape in self._probe() if path in by_path]
        if not calls:
            raise ModelError(f"model {self.model.name!r}: no MultiHeadAttention layer was called by the forward pass")
        lengths = {int(shape[1]) for _, shape in calls if is_token_shape(shape)}
        if len(lengths) != 1:
            raise ModelError(
                f"model {self.model.name!r}: its attention layers see sequences of different lengths ({sorted(lengths)} tokens); "
                "rollout multiplies attention through the layers, which needs one token sequence"
            )
        length = lengths.pop()
        layout = self._layout(length, "the attention layers' token sequence")
        if layout is None:
            height, width, _ = self.input_shape
            raise ModelError(
                f"the attention layers' {length} tokens fit no patch grid of the {height}×{width} input; "
                "set `layer_grid: [h, w]` and/or `prefix_tokens: N` in the spec"
            )
        ordered: list[tuple[str, Any]] = []
        for path, _ in calls:
            if all(path != known for known, _ in ordered):
                ordered.append((path, by_path[path]))
        self._attention_plan = AttentionPlan(tuple(ordered), layout)
        return self._attention_plan

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

    def _step(self, images: Any, targets: Any, with_gradients: bool, with_attention: bool = False, with_contrast: bool = False) -> tuple[Any, ...]:
        import tensorflow as tf

        watched_attention = self.attention_plan().layers if with_attention else ()
        # The contrast class (the best-scoring other class) needs a second gradient from the same tape.
        with tf.GradientTape(persistent=with_contrast) as tape:
            with record_forward(
                self.layer_choice.layer, self.output_layer, self.use_logits, tape, self.layer_choice.capture
            ) as recording, record_attention(list(watched_attention), tape if with_gradients else None) as attention:
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
        return outputs

    def _compiled_step(self, with_gradients: bool, with_attention: bool, with_contrast: bool) -> Any:
        if not with_attention and not with_contrast:
            return self._with_gradients if with_gradients else self._forward_only
        key = (with_gradients, with_attention, with_contrast)
        if key not in self._steps:
            import tensorflow as tf

            self._steps[key] = tf.function(
                lambda images, targets: self._step(images, targets, with_gradients, with_attention, with_contrast),
                input_signature=self._signature,
            )
        return self._steps[key]

    def run_batch(self, inputs: np.ndarray, targets: np.ndarray, method: CamMethod, contrast: bool = False) -> _BatchOutputs:
        """One compiled pass over a batch. ``contrast``: also the gradients for each image's best other class
        (gradient methods only), for the class-discrimination check of token models."""
        with_contrast = contrast and method.uses_gradients
        step = self._compiled_step(method.uses_gradients, method.uses_attention, with_contrast)
        # asarray, not astype: the batch is usually float32 already, and a 32×224×224×3 copy is ~3 ms per batch.
        found = step(np.asarray(inputs, dtype=np.float32), np.asarray(targets, dtype=np.int32))
        activations, gradients, scores, probabilities, chosen, output_is_probability = found[:6]
        extras = list(found[6:])
        attention = gradient_attention = contrast_attention = contrast_targets = contrast_gradients = None
        if method.uses_attention:
            # Kept float32 (a view of TensorFlow's buffer): converting (L, B, T, T) to float64 at once costs more
            # than the rollout itself; the methods convert one layer at a time.
            attention = np.asarray(extras.pop(0))
            if method.uses_gradients:
                gradient_attention = np.asarray(extras.pop(0))
        if with_contrast:
            contrast_targets, contrast_gradients = np.asarray(extras.pop(0)), self._grid(extras.pop(0))
            if method.uses_attention:
                contrast_attention = np.asarray(extras.pop(0), dtype=np.float64)
        return _BatchOutputs(
            activations=self._grid(activations),
            gradients=self._grid(gradients),
            scores=np.asarray(scores, dtype=np.float64),
            probabilities=np.asarray(probabilities, dtype=np.float64),
            targets=np.asarray(chosen),
            output_is_probability=bool(output_is_probability),
            attention=attention,
            gradient_attention=gradient_attention,
            contrast_targets=contrast_targets,
            contrast_gradients=contrast_gradients,
            contrast_gradient_attention=contrast_attention,
        )

    def _grid(self, tensor: Any) -> np.ndarray:
        """A captured tensor as float64 (B, h, w, K): token layers are reshaped to their patch grid."""
        array = np.asarray(tensor, dtype=np.float64)
        layout = self.layer_choice.tokens
        return tokens_to_grid(array, layout) if layout is not None and array.ndim == 3 else array

    def class_probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """(N, num_classes) class probabilities of (N, H, W, C) model inputs: one compiled forward pass."""
        targets = np.full(len(inputs), PREDICTED, dtype=np.int32)
        probabilities = self._forward_only(np.asarray(inputs, dtype=np.float32), targets)[3]
        return np.asarray(probabilities, dtype=np.float64)


_ENGINES: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], CamEngine]] = weakref.WeakKeyDictionary()


def engine_for(
    model: Any,
    *,
    layer: str = "auto",
    output: str | int = 0,
    score: str = "logit",
    layer_grid: Sequence[int] | None = None,
    prefix_tokens: int | None = None,
) -> CamEngine:
    """The cached engine for (model, layer, output, score[, token layout keys]): compiled once, no retracing on later calls."""
    engines = _ENGINES.setdefault(model, {})
    grid = tuple(int(size) for size in layer_grid) if layer_grid is not None else None
    key: tuple[Any, ...] = (layer, output, score) if grid is None and prefix_tokens is None else (layer, output, score, grid, prefix_tokens)
    if key not in engines:
        engines[key] = CamEngine(model, layer=layer, output=output, score=score, layer_grid=grid, prefix_tokens=prefix_tokens)
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


def _class_name(index: int, labels: Sequence[str] | None) -> str:
    return f"class {labels[index]!r}" if labels is not None and 0 <= index < len(labels) else f"class {index}"


def _alternative_method(method: str, engine: CamEngine) -> str:
    """The method a warning suggests: class-specific attention when the model has it, else Grad-CAM."""
    has_attention = bool(attention_layers(engine.model))
    if method == "gradrollout":
        return "gradcam (at the last attention's query input, layer: auto)"
    return "gradrollout" if has_attention else "gradcam"


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
    resize_filter: str = "bilinear",
    layer_grid: Sequence[int] | None = None,
    prefix_tokens: int | None = None,
) -> list[Explanation]:
    """Explain each image with a CAM method, batched.

    Args:
        model: a Keras 3 model (Functional, Sequential, nested backbone, subclassed, multi-output).
        images: (H, W, C) arrays with 0–255 pixel values, or image paths; sizes may differ.
        layer: "auto" or a layer name / nested path ("backbone/out_relu").
        targets: None (predicted class), a class index or name, or one of those per image.
        method: one of gradcam, gradcam++, hirescam, xgradcam, layercam, scorecam, eigencam, and for models with
            keras.layers.MultiHeadAttention: rollout, gradrollout.
        batch_size: images per forward pass (Score-CAM: masked images per forward pass).
        labels: class names in output order, to name targets.
        output: output name or index for multi-output models.
        score: "logit" (pre-softmax, default) or "probability".
        preprocess: a Preprocess, or a name (scale01, none, a keras.applications family).
        resize: stretch | center_crop | letterbox; heatmaps are mapped back to each original image.
        resize_filter: bilinear | nearest | bicubic | area: how pixels are resampled when fitting (use the model's
            training filter); it does not move anything, so regions map back the same way for every filter.
        layer_grid: (h, w) patch grid of a token layer (batch, tokens, channels), when its length is ambiguous.
        prefix_tokens: class/distillation/register tokens before the patches, when ambiguous.

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
    engine = engine_for(model, layer=layer, output=output, score=score, layer_grid=layer_grid, prefix_tokens=prefix_tokens)
    plan = engine.attention_plan() if cam_method.uses_attention else None
    layer_reason = engine.layer_choice.reason if plan is None else f"{cam_method.name}: {plan.describe()} (layer: {engine.layer_choice.reason})"
    # The class-discrimination check is for token models, where Grad-CAM is known to go flat.
    check_discrimination = engine.token_layout is not None or plan is not None
    alternative = _alternative_method(cam_method.name, engine)
    if isinstance(preprocess, str):
        from gradcam_audit.core.method_names import PREPROCESS_FAMILIES

        preprocess = Preprocess("family" if preprocess in PREPROCESS_FAMILIES else "builtin", preprocess)
    transform = preprocess_function(preprocess)
    height, width, channels = engine.input_shape
    arrays = [_as_image(image, channels) for image in images]
    geometries = [
        plan_geometry((array.shape[1], array.shape[0]), (width or array.shape[1], height or array.shape[0]), resize, resize_filter)
        for array in arrays
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
            outputs = engine.run_batch(inputs, chunk_targets, cam_method, contrast=check_discrimination and cam_method.class_specific)
            batch = CamBatch(
                inputs=np.asarray(inputs, dtype=np.float32),
                activations=outputs.activations,
                gradients=outputs.gradients,
                targets=outputs.targets,
                class_probabilities=engine.class_probabilities,
                batch_size=batch_size,
                attention=outputs.attention,
                gradient_attention=outputs.gradient_attention,
                attention_tokens=plan.tokens if plan is not None else None,
            )
            raw_maps = cam_method.raw_maps(batch)
            contrast_maps = None
            if outputs.contrast_targets is not None and outputs.contrast_gradients is not None:
                contrast_maps = cam_method.raw_maps(
                    replace(batch, gradients=outputs.contrast_gradients, targets=outputs.contrast_targets,
                            gradient_attention=outputs.contrast_gradient_attention)
                )
            score_kind = engine.output_kind(outputs.output_is_probability)
            for position, index in enumerate(chunk):
                raw = raw_maps[position]
                reason = degenerate_reason(raw)
                if reason is not None and check_discrimination:
                    reason = f"{reason}; on this transformer try {alternative}"
                heatmap = np.maximum(np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0), 0.0) if reason is None else np.zeros_like(raw)
                results[index] = Explanation(
                    heatmap=heatmap,
                    heatmap_full=upsample_heatmap(heatmap, geometries[index]),
                    scores=outputs.scores[position],
                    probabilities=outputs.probabilities[position],
                    predicted_index=int(np.argmax(outputs.scores[position])),
                    target_index=int(outputs.targets[position]),
                    layer=engine.layer_choice.path,
                    layer_reason=layer_reason,
                    method=cam_method.name,
                    score_kind=score_kind,
                    degenerate=reason,
                    geometry=geometries[index],
                    warnings=discrimination_warnings(
                        cam_method.name,
                        cam_method.class_specific,
                        heatmap,
                        None if contrast_maps is None else np.maximum(np.nan_to_num(contrast_maps[position]), 0.0),
                        _class_name(int(outputs.targets[position]), labels),
                        None if outputs.contrast_targets is None else _class_name(int(outputs.contrast_targets[position]), labels),
                        alternative,
                    )
                    if check_discrimination and reason is None
                    else (),
                )
    return [result for result in results if result is not None]
