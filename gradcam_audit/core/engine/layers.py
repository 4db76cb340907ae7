"""Finding the layer to explain: by name or nested path, or automatically on the path to the output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gradcam_audit.core.engine.tokens import TokenLayout, is_token_shape

from gradcam_audit.core.spec.suggest import closest, listing
from gradcam_audit.errors import ModelError

PATH_SEPARATOR = "/"


@dataclass(frozen=True)
class LayerChoice:
    """The layer that was explained, its path inside nested models, and why it was chosen.

    ``capture`` is "output" (the layer's output) or "query" (a MultiHeadAttention's query input);
    ``tokens`` is the token layout when the captured tensor is (batch, tokens, channels), else None.
    """

    path: str
    layer: Any
    reason: str
    capture: str = "output"
    tokens: TokenLayout | None = None


def _children(layer: Any) -> list[Any]:
    # A nested backbone (Functional/Sequential used as a layer) exposes its own layers.
    children = getattr(layer, "layers", None)
    return list(children) if isinstance(children, list) else []


def iter_layers(model: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (path, layer) for every layer, nested models included ("backbone/out_relu")."""
    for layer in _children(model):
        path = prefix + layer.name
        yield path, layer
        yield from iter_layers(layer, path + PATH_SEPARATOR)


def resolve_layer(model: Any, name: str) -> LayerChoice:
    """Find a layer by full path or, when unambiguous, by its bare name anywhere in the model.

    Raises:
        ModelError: unknown or ambiguous name, listing the candidates and the closest match.
    """
    by_path = dict(iter_layers(model))
    if name in by_path:
        return LayerChoice(name, by_path[name], "named in the spec")
    matches = [path for path in by_path if path.rsplit(PATH_SEPARATOR, 1)[-1] == name]
    if len(matches) == 1:
        return LayerChoice(matches[0], by_path[matches[0]], "named in the spec")
    if len(matches) > 1:
        raise ModelError(f"layer name {name!r} is ambiguous in model {model.name!r}: it matches {', '.join(matches)}; give the full path")
    spatial = [path for path, layer in by_path.items() if _is_spatial(_output_shape(layer))]
    bare_names = {path.rsplit(PATH_SEPARATOR, 1)[-1]: path for path in by_path}
    match = closest(name, list(by_path)) or bare_names.get(closest(name, list(bare_names)) or "")
    hint = f" Did you mean {match!r}?" if match else ""
    raise ModelError(
        f"model {model.name!r} has no layer {name!r}.{hint} Layers with spatial (4-D) outputs: "
        f"{listing(spatial[::-1], 15) or 'none'} (latest first; nested layers as 'outer/inner'). Use layer: auto to pick one."
    )


def _output_shape(layer: Any) -> tuple[Any, ...] | None:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    return tuple(shape)


def _is_spatial(shape: tuple[Any, ...] | None) -> bool:
    if shape is None or len(shape) != 4:
        return False
    height, width = shape[1], shape[2]
    return not (height is not None and width is not None and height * width <= 1)


def _ancestor_paths(model: Any, output_index: int) -> set[str] | None:
    """Paths of every layer the chosen output depends on; None when the model has no graph (subclassed)."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not outputs:
        return None
    found: set[str] = set()

    def walk(owner: Any, prefix: str, tensors: list[Any]) -> None:
        stack = list(tensors)
        seen: set[int] = set()
        while stack:
            tensor = stack.pop()
            history = getattr(tensor, "_keras_history", None)
            if history is None or id(tensor) in seen:
                continue
            seen.add(id(tensor))
            operation = history.operation
            path = prefix + operation.name
            found.add(path)
            inner_outputs = getattr(operation, "outputs", None) if _children(operation) else None
            if inner_outputs:
                walk(operation, path + PATH_SEPARATOR, [inner_outputs[history.tensor_index]])
            node = operation._inbound_nodes[history.node_index]
            stack.extend(node.input_tensors)

    walk(model, "", [outputs[output_index]])
    return found


TokenLayoutOf = Callable[[str, tuple[Any, ...]], "TokenLayout | None"]
"""(layer path, (batch, tokens, channels) shape) → the token layout, None if no patch grid fits (may raise)."""


def auto_layer(
    model: Any, output_index: int, called_paths: list[tuple[str, tuple[Any, ...]]], token_layout_of: TokenLayoutOf | None = None
) -> LayerChoice:
    """The last layer (in call order) on the path to the chosen output with a 4-D output larger than 1×1,
    or, given ``token_layout_of``, a (batch, tokens, channels) output whose tokens form a patch grid.

    Args:
        called_paths: (path, output shape) of every layer in the order a forward pass called them.
        token_layout_of: how a token output maps onto the patch grid (transformers); None: 4-D only.
    """
    by_path = dict(iter_layers(model))
    ancestors = _ancestor_paths(model, output_index)
    for path, shape in reversed(called_paths):
        layer = by_path.get(path)
        if layer is None or _children(layer):
            continue  # a nested model itself: its last inner layer is the precise choice
        if ancestors is not None and path not in ancestors:
            continue
        if _is_spatial(shape):
            height, width = shape[1], shape[2]
            scope = "on the path to the chosen output" if ancestors is not None else "called by the model (no graph to trace)"
            return LayerChoice(path, layer, f"auto: last layer {scope} with a spatial output ({height}×{width}×{shape[3]})")
        if token_layout_of is not None and is_token_shape(shape):
            layout = token_layout_of(path, shape)
            if layout is not None:
                scope = "on the path to the chosen output" if ancestors is not None else "called by the model (no graph to trace)"
                return LayerChoice(
                    path, layer, f"auto: last layer {scope} with a token output ({shape[1]} tokens × {shape[2]}): {layout.describe()}", tokens=layout
                )
    raise ModelError(
        f"model {model.name!r} has no layer with a 4-D spatial output larger than 1×1 on the path to output {output_index}: "
        "Grad-CAM needs a convolutional feature map. Name a layer explicitly with `layer:`."
    )


def _all_ancestor_paths(model: Any) -> set[str] | None:
    """Paths of every layer any output depends on (a detector's heads read several outputs); None without a graph."""
    try:
        count = len(model.outputs or [])
    except (AttributeError, ValueError):
        return None
    found: set[str] = set()
    for index in range(count):
        found |= _ancestor_paths(model, index) or set()
    return found or None


def _innermost_backbone(model: Any, spatial_paths: list[str]) -> str | None:
    """The nested model holding the first spatial map, descended into its own first nested model (the image encoder)."""
    by_path = dict(iter_layers(model))
    backbone: str | None = None
    for path in spatial_paths:
        parts = path.split(PATH_SEPARATOR)
        for depth in range(1, len(parts)):
            prefix = PATH_SEPARATOR.join(parts[:depth])
            if _children(by_path.get(prefix)):
                backbone = prefix
        if backbone is not None:
            return backbone
    return None


def task_auto_layer(model: Any, output_index: int, called_paths: list[tuple[str, tuple[Any, ...]]], task: str) -> LayerChoice:
    """`layer: auto` for a segmenter or a detector, with the reason.

    A segmenter: the last layer at the coarsest resolution on the path to the output (the encoder's deepest map,
    before the decoder upsamples: at the output's own resolution the map would only repeat the output). A detector:
    the last spatial map of the innermost nested backbone (every head, at every pyramid level, depends on it); without
    a nested backbone, the spatial map that feeds the last spatial layer (the head).
    """
    by_path = dict(iter_layers(model))
    ancestors = _ancestor_paths(model, output_index) if task == "segmentation" else _all_ancestor_paths(model)
    spatial = [(path, shape) for path, shape in called_paths
               if path in by_path and not _children(by_path[path]) and (ancestors is None or path in ancestors) and _is_spatial(shape)]
    if not spatial:
        raise ModelError(f"model {model.name!r} has no layer with a 4-D spatial output larger than 1×1 on the path to its output: "
                         "Grad-CAM needs a convolutional feature map. Name a layer explicitly with `layer:`.")

    def described(shape: tuple[Any, ...]) -> str:
        return f"{shape[1]}×{shape[2]}×{shape[3]}"

    if task == "segmentation":
        coarsest = min(int(shape[1] or 0) * int(shape[2] or 0) for _, shape in spatial)
        path, shape = [(path, shape) for path, shape in spatial if int(shape[1] or 0) * int(shape[2] or 0) == coarsest][-1]
        return LayerChoice(path, by_path[path], f"auto (segmentation): last layer at the coarsest resolution on the path to the output "
                                                f"({described(shape)}), before the decoder upsamples")
    backbone = _innermost_backbone(model, [path for path, _ in spatial])
    if backbone is not None:
        inside = [(path, shape) for path, shape in spatial if path.startswith(backbone + PATH_SEPARATOR)]
        path, shape = inside[-1]
        return LayerChoice(path, by_path[path], f"auto (detection): last spatial map of the backbone {backbone!r} ({described(shape)}), "
                                                "which every detection head depends on")
    path, shape = spatial[-2] if len(spatial) > 1 else spatial[-1]
    head = spatial[-1][0]
    return LayerChoice(path, by_path[path], f"auto (detection): the spatial map ({described(shape)}) feeding the head {head!r}"
                       if len(spatial) > 1 else f"auto (detection): the only spatial map ({described(shape)})")
