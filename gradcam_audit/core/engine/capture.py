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


def activation_name(layer: Any) -> str | None:
    """'softmax' / 'sigmoid' if the layer ends in such an activation, else None."""
    import keras

    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    return name if name in _SQUASHING_ACTIVATIONS else None


@contextmanager
def record_forward(target_layer: Any, output_layer: Any | None, use_logits: bool, tape: Any = None) -> Iterator[Recording]:
    """While active, calling the model records the target layer's output and the output layer's logits.

    Used inside a traced tf.function: the swap happens at trace time only, the compiled graph keeps it.
    ``tape`` (a tf.GradientTape, already recording) watches the captured output the moment it exists:
    a tape only records ops fed by a watched tensor or a *trainable* variable, so without this the
    gradient is None when no trainable weight lies between the input and the layer (a pooling or
    activation layer on the input, a frozen backbone), and the heatmap silently comes out all-zero.
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

    restores.append(_swap_call(target_layer, record_activations))
    squash = activation_name(output_layer) if (use_logits and output_layer is not None) else None
    if squash is not None and output_layer is not None and output_layer is not target_layer:
        record_logits: Callable[..., Any]
        if isinstance(output_layer, (keras.layers.Softmax, keras.layers.Activation)):

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
