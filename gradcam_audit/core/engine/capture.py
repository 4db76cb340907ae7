"""Capture a layer's output (and the pre-activation logits) during the model's own forward pass.

Instead of building a sub-model from the input to [layer output, predictions], which breaks on reloaded
Sequential models and raises "Graph disconnected" on nested backbones, we swap the layer's ``call`` for a
recording wrapper while the model runs. This works for every model shape (Functional, Sequential,
nested, subclassed) and lets the gradient start at the captured layer, so ops before it are never
differentiated.

TF 2.21 with oneDNN corrupts the heap in the *eager* backward pass of small 1×1 stride-2 convs, also when
such a conv comes after the captured layer; the engine survives because it differentiates only inside its
compiled tf.function (graph mode), never eagerly (tests/engine/test_onednn_crash.py pins both facts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_SQUASHING_ACTIVATIONS = ("softmax", "sigmoid")


@dataclass
class Recording:
    """What the wrapped calls saw during one forward pass."""

    activations: Any = None
    logits: Any = None
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)


def _swap_call(layer: Any, wrapper: Callable[..., Any]) -> Callable[[], None]:
    previous = layer.__dict__.get("call")
    original = layer.call

    def call(*args: Any, **kwargs: Any) -> Any:
        return wrapper(original, *args, **kwargs)

    layer.call = call

    def restore() -> None:
        if previous is None:
            del layer.call
        else:
            layer.call = previous

    return restore


def _squashing_operations() -> dict[type, str]:
    """Keras' op classes behind ``keras.ops.softmax`` / ``keras.ops.sigmoid`` (and ``keras.activations.*``
    called on a symbolic tensor). Keras exports the functions, not the classes, so they are looked up in
    keras.src; a Keras without them simply has no op to detect."""
    from keras.src.ops import nn

    found = {getattr(nn, class_name, None): name for class_name, name in (("Softmax", "softmax"), ("Sigmoid", "sigmoid"))}
    return {operation: name for operation, name in found.items() if isinstance(operation, type)}


def activation_name(layer: Any) -> str | None:
    """'softmax' / 'sigmoid' if the layer or op ends in such an activation, else None.

    A final softmax is written three ways: a layer (``layers.Softmax``, ``layers.Activation("softmax")``),
    an ``activation=`` argument, or an op on a Functional model's tensor (``keras.ops.softmax(x)``), whose
    output's history then names a keras op object, not a Layer.
    """
    import keras

    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    for operation, operation_name in _squashing_operations().items():
        if isinstance(layer, operation):
            return operation_name
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    return name if name in _SQUASHING_ACTIVATIONS else None


def _squashes_its_input(layer: Any) -> bool:
    """True when the layer or op *is* the squashing (its input is the logit); False when it squashes its own
    linear output (a Dense with ``activation="softmax"``)."""
    import keras

    return isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)) or not isinstance(layer, keras.layers.Layer)


def is_probability_distribution(output: Any) -> Any:
    """A scalar bool tensor: ``output`` is (B, C) with C > 1, every row non-negative and summing to 1.

    Float32 rounding makes a softmax row sum to 1 within about C · 6e-8; a tolerance of 1e-5 + 1e-6 · C
    allows that and still rejects logits that merely happen to be small.
    """
    import tensorflow as tf

    tensor = tf.cast(output, tf.float32)
    classes = tensor.shape[-1]
    if tensor.shape.rank != 2 or classes is None or classes < 2:
        return tf.constant(False)
    non_negative = tf.reduce_all(tensor >= 0.0)
    sums_to_one = tf.reduce_all(tf.abs(tf.reduce_sum(tensor, axis=-1) - 1.0) <= 1e-5 + 1e-6 * classes)
    return tf.logical_and(non_negative, sums_to_one)


@contextmanager
def record_forward(
    target_layer: Any, output_layer: Any | None, use_logits: bool, tape: Any = None, capture: str = "output"
) -> Iterator[Recording]:
    """While active, calling the model records the target layer's output and the output layer's logits.

    Used inside a traced tf.function: the swap happens at trace time only, the compiled graph keeps it.
    ``tape`` (a tf.GradientTape, already recording) watches the captured output the moment it exists:
    a tape only records ops fed by a watched tensor or a *trainable* variable, so without this the
    gradient is None when no trainable weight lies between the input and the layer (a pooling or
    activation layer on the input, a frozen backbone), and the heatmap silently comes out all-zero.
    ``capture="query"`` records the *input* (the query) of a MultiHeadAttention layer instead of its output:
    the tokens the last attention mixes, the one place a class-token ViT's patch tokens still reach the class.
    """
    import keras

    recording = Recording()
    restores: list[Callable[[], None]] = []

    def record_activations(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        outputs = original(*args, **kwargs)
        if tape is not None:
            tape.watch(outputs)
        recording.activations = outputs
        return outputs

    def record_query(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        query = args[0] if args else kwargs["query"]
        if tape is not None:
            tape.watch(query)
        recording.activations = query
        return original(*args, **kwargs)

    restores.append(_swap_call(target_layer, record_query if capture == "query" else record_activations))
    squash = activation_name(output_layer) if (use_logits and output_layer is not None) else None
    if squash is not None and output_layer is not None and output_layer is not target_layer:
        record_logits: Callable[..., Any]
        if _squashes_its_input(output_layer):

            def record_logits_input(original: Callable[..., Any], inputs: Any, *args: Any, **kwargs: Any) -> Any:
                recording.logits = inputs
                return original(inputs, *args, **kwargs)

            record_logits = record_logits_input
        else:
            squashing = output_layer.activation

            def record_logits_linear(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
                # Run the layer with a linear activation to get y^c before the squashing, then squash ourselves.
                output_layer.activation = keras.activations.linear
                try:
                    logits = original(*args, **kwargs)
                finally:
                    output_layer.activation = squashing
                recording.logits = logits
                return squashing(logits)

            record_logits = record_logits_linear
        restores.append(_swap_call(output_layer, record_logits))
    try:
        yield recording
    finally:
        for restore in reversed(restores):
            restore()


@contextmanager
def record_calls(layers: list[tuple[str, Any]]) -> Iterator[Recording]:
    """Record (path, output shape) of every listed layer in call order, for the automatic layer choice."""
    recording = Recording()
    restores: list[Callable[[], None]] = []
    for path, layer in layers:

        def wrapper(original: Callable[..., Any], *args: Any, _path: str = path, **kwargs: Any) -> Any:
            outputs = original(*args, **kwargs)
            shape = tuple(getattr(outputs, "shape", ()) or ())
            recording.calls.append((_path, shape))
            return outputs

        restores.append(_swap_call(layer, wrapper))
    try:
        yield recording
    finally:
        for restore in reversed(restores):
            restore()


@dataclass
class AttentionRecording:
    """Attention probabilities of each MultiHeadAttention call, in call order: (B, heads, T, S) tensors."""

    scores: list[Any] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@contextmanager
def record_attention(layers: list[tuple[str, Any]], tape: Any = None) -> Iterator[AttentionRecording]:
    """While active, every listed MultiHeadAttention also returns, and we record, its attention probabilities.

    The layer is called with ``return_attention_scores=True`` (Keras then takes its explicit softmax path,
    the same arithmetic as the fused one) and the caller gets what it asked for: the output alone unless it
    asked for the scores itself. Flash attention cannot return scores, so it is off for the call.
    """
    recording = AttentionRecording()
    restores: list[Callable[[], None]] = []
    for path, layer in layers:

        def wrapper(original: Callable[..., Any], *args: Any, _path: str = path, _layer: Any = layer, **kwargs: Any) -> Any:
            wanted = bool(kwargs.get("return_attention_scores", False))
            kwargs["return_attention_scores"] = True
            flash = getattr(_layer, "_flash_attention", None)
            if flash:
                _layer._flash_attention = False
            try:
                output, scores = original(*args, **kwargs)
            finally:
                if flash:
                    _layer._flash_attention = flash
            if tape is not None:
                tape.watch(scores)
            recording.scores.append(scores)
            recording.paths.append(_path)
            return (output, scores) if wanted else output

        restores.append(_swap_call(layer, wrapper))
    try:
        yield recording
    finally:
        for restore in reversed(restores):
            restore()
