"""The CAM engine: one model at one layer and output, its compiled steps, and the cache of engines per model."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcam_audit.core.engine.capture import activation_name, is_probability_distribution
from gradcam_audit.core.engine.gradient_step import gradient_step
from gradcam_audit.core.engine.layer_setup import AttentionPlan, LayerSetup
from gradcam_audit.core.engine.model_call import call_model
from gradcam_audit.core.engine.methods import CamMethod
from gradcam_audit.core.engine.targets import TaskHead
from gradcam_audit.core.engine.tokens import TokenLayout, tokens_to_grid
from gradcam_audit.core.spec.suggest import did_you_mean, listing
from gradcam_audit.errors import ModelError

PREDICTED = -1  # target placeholder: explain whatever class the model predicts

# A final softmax the engine cannot see (inside a subclassed model's call, a Lambda): said this way when the
# output is a probability distribution both on the engine's test inputs and on the batch explained.
_UNREACHABLE_LOGIT = "probability (the model's output is already a softmax; its logit cannot be reached)"
_OUTPUT_IS_PROBABILITY = "probability (the model's output is already a softmax)"


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
    # Segmentation / detection only: each image's predicted class (the task's rule) and the task's extras.
    predicted: np.ndarray | None = None
    task_extras: tuple[np.ndarray, ...] = ()


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


class CamEngine(LayerSetup):
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
        task: TaskHead | None = None,
    ) -> None:
        import tensorflow as tf

        # None: a classifier, exactly as before tasks existed; else how the raw output becomes (B, C) scores.
        self.task = task
        self._output_grids: dict[tuple[int, int], tuple[int, int]] = {}

        # A weak reference: the engine cache is keyed weakly by the model, and a strong one here would keep
        # every model ever explained alive.
        self._model_reference = weakref.ref(model)
        outputs = _model_outputs(model)
        self.output_index = self._resolve_output(outputs, output)
        # A detector's outputs go through its decoder: no final activation of one output is its score's squash.
        self.output_layer = _output_layer(outputs[self.output_index]) if outputs and (task is None or task.name != "detection") else None
        self.multi_output = len(outputs) > 1
        last_dimension = outputs[self.output_index].shape[-1] if outputs else None
        # A single sigmoid unit is presented as two classes (negative, positive).
        self.num_classes = None if last_dimension is None else max(int(last_dimension), 2)
        if task is not None and task.name == "detection":
            self.num_classes = None  # known only after decoding
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
        self.may_be_probability = self.squash is None and task is None and self._output_looks_like_probability()
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
        if task is not None:
            # A task's (B, D) input: flattened pixel weights (segmentation) or box, candidate, match_iou (detection).
            signature.append(tf.TensorSpec((None, None), tf.float32))
            if height is None or width is None:
                # An input of any size (keras-hub's segmenters): upsampling layers need static sizes, so each size is
                # traced on its own (a spec's images usually share one size).
                signature = None  # type: ignore[assignment]
            self._signature = signature
            self._with_gradients = tf.function(lambda images, targets, task_inputs: self._step(images, targets, True, task_inputs=task_inputs),
                                               input_signature=signature)
            self._forward_only = tf.function(lambda images, targets, task_inputs: self._step(images, targets, False, task_inputs=task_inputs),
                                             input_signature=signature)
            return
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

    def _output_looks_like_probability(self) -> bool:
        """Whether the output rows are probability distributions on a black and a noise image."""
        height, width, channels = self.input_shape
        noise = np.random.default_rng(0).uniform(0.0, 1.0, (height or 64, width or 64, channels))
        dummy = np.stack([np.zeros_like(noise), noise]).astype(np.float32)
        try:
            output = self.select_output(call_model(self.model, dummy))
        except Exception:  # noqa: BLE001 - only a hint: a model that cannot run on it fails, readably, on its real batch
            return False
        return bool(is_probability_distribution(output))

    def output_kind(self, output_is_probability: bool) -> str:
        """The score kind of one batch: the engine's own, unless the output turned out to be a softmax already."""
        if not output_is_probability:
            return self.score_kind
        return _UNREACHABLE_LOGIT if self.use_logits else _OUTPUT_IS_PROBABILITY

    # -- computation --------------------------------------------------------------------------------

    def select_output(self, outputs: Any) -> Any:
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

    def _step(self, images: Any, targets: Any, with_gradients: bool, with_attention: bool = False, with_contrast: bool = False,
              task_inputs: Any = None) -> tuple[Any, ...]:
        return gradient_step(self, images, targets, with_gradients, with_attention, with_contrast, task_inputs)

    def output_grid(self, input_size: tuple[int, int]) -> tuple[int, int]:
        """(h, w) of the explained output for a (width, height) input: a segmenter's pixel grid, found once per size."""
        if input_size not in self._output_grids:
            width, height = input_size
            dummy = np.zeros((1, height, width, self.input_shape[2]), dtype=np.float32)
            output = self.select_output(call_model(self.model, dummy))
            shape = tuple(output.shape)
            if len(shape) != 4:
                raise ModelError(f"a segmenter's output must be (batch, height, width, classes); output {self.output_index} is {shape}: "
                                 "choose the per-pixel output with `output:`")
            self._output_grids[input_size] = (int(shape[1]), int(shape[2]))
        return self._output_grids[input_size]

    def _compiled_step(self, with_gradients: bool, with_attention: bool, with_contrast: bool) -> Any:
        if not with_attention and not with_contrast:
            return self._with_gradients if with_gradients else self._forward_only
        key = (with_gradients, with_attention, with_contrast)
        if key not in self._steps:
            import tensorflow as tf

            if self.task is not None:
                self._steps[key] = tf.function(
                    lambda images, targets, task_inputs: self._step(images, targets, with_gradients, with_attention, with_contrast, task_inputs),
                    input_signature=self._signature,
                )
            else:
                self._steps[key] = tf.function(
                    lambda images, targets: self._step(images, targets, with_gradients, with_attention, with_contrast),
                    input_signature=self._signature,
                )
        return self._steps[key]

    def run_batch(self, inputs: np.ndarray, targets: np.ndarray, method: CamMethod, contrast: bool = False,
                  task_inputs: np.ndarray | None = None) -> _BatchOutputs:
        """One compiled pass over a batch. ``contrast``: also the gradients for each image's best other class
        (gradient methods only), for the class-discrimination check of token models. ``task_inputs``: the (B, D)
        rows of a segmentation or detection engine (core/engine/targets.py)."""
        with_contrast = contrast and method.uses_gradients
        step = self._compiled_step(method.uses_gradients, method.uses_attention, with_contrast)
        # asarray, not astype: the batch is usually float32 already, and a 32×224×224×3 copy is ~3 ms per batch.
        arguments = (np.asarray(inputs, dtype=np.float32), np.asarray(targets, dtype=np.int32))
        found = step(*arguments) if self.task is None else step(*arguments, self._task_inputs(task_inputs, len(inputs)))
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
        task_outputs = [np.asarray(extra) for extra in extras]  # what is left: the task's predicted class and extras
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
            predicted=task_outputs[0] if task_outputs else None,
            task_extras=tuple(task_outputs[1:]),
        )

    def _grid(self, tensor: Any) -> np.ndarray:
        """A captured tensor as float64 (B, h, w, K): token layers are reshaped to their patch grid."""
        array = np.asarray(tensor, dtype=np.float64)
        layout = self.layer_choice.tokens
        return tokens_to_grid(array, layout) if layout is not None and array.ndim == 3 else array

    def class_probabilities(self, inputs: np.ndarray, task_inputs: np.ndarray | None = None) -> np.ndarray:
        """(N, num_classes) class probabilities of (N, H, W, C) model inputs: one compiled forward pass.

        For a segmentation or detection engine, ``task_inputs`` (N, D) say which pixels or candidate each row is about.
        """
        targets = np.full(len(inputs), PREDICTED, dtype=np.int32)
        arguments = (np.asarray(inputs, dtype=np.float32), targets)
        found = self._forward_only(*arguments) if self.task is None else self._forward_only(*arguments, self._task_inputs(task_inputs, len(inputs)))
        return np.asarray(found[3], dtype=np.float64)

    def _task_inputs(self, task_inputs: np.ndarray | None, count: int) -> np.ndarray:
        if task_inputs is None or len(task_inputs) != count:
            raise ModelError(f"this {self.task.name if self.task else ''} engine needs one target row per image "
                             f"(got {0 if task_inputs is None else len(task_inputs)} for {count} images)")
        return np.asarray(task_inputs, dtype=np.float32)


_ENGINES: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], CamEngine]] = weakref.WeakKeyDictionary()


def engine_for(
    model: Any,
    *,
    layer: str = "auto",
    output: str | int = 0,
    score: str = "logit",
    layer_grid: Sequence[int] | None = None,
    prefix_tokens: int | None = None,
    task: TaskHead | None = None,
) -> CamEngine:
    """The cached engine for (model, layer, output, score[, token layout keys][, task]): compiled once, no retracing on later calls."""
    engines = _ENGINES.setdefault(model, {})
    grid = tuple(int(size) for size in layer_grid) if layer_grid is not None else None
    key: tuple[Any, ...] = (layer, output, score) if grid is None and prefix_tokens is None else (layer, output, score, grid, prefix_tokens)
    if task is not None:
        key += task.key()
    if key not in engines:
        engines[key] = CamEngine(model, layer=layer, output=output, score=score, layer_grid=grid, prefix_tokens=prefix_tokens, task=task)
    return engines[key]

