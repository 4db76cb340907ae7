"""Token layers of vision transformers: which tokens are patches, and the grid they came from.

A transformer layer outputs (batch, tokens, channels): a few prefix tokens (class, distillation, register
tokens) followed by the patch tokens in row-major order. The engine drops the prefix and reshapes the
patches to their (h, w) grid, so every CAM method runs on a (batch, h, w, channels) map as on a CNN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcam_audit.errors import ModelError

MAX_INFERRED_PREFIX = 8
"""Most prefix tokens guessed without `prefix_tokens:` (a class token, a distillation token, registers)."""

_FIX = "set `layer_grid: [h, w]` (the patch grid) and/or `prefix_tokens: N` (class/distillation/register tokens before the patches) in the spec"


@dataclass(frozen=True)
class TokenLayout:
    """How a (batch, tokens, channels) sequence maps onto the patch grid.

    Attributes:
        sequence_length: tokens in the sequence, prefix included.
        prefix_tokens: tokens before the patches (dropped from maps).
        grid: (h, w) of the patch tokens, row-major.
        source: how the layout was found, in words.
    """

    sequence_length: int
    prefix_tokens: int
    grid: tuple[int, int]
    source: str

    def describe(self) -> str:
        """One phrase for a layer_reason: the tokens dropped and the grid used."""
        if self.prefix_tokens == 0:
            dropped = "no prefix token dropped (every token is a patch)"
        elif self.prefix_tokens == 1:
            dropped = "dropped 1 prefix token (token 0, the class token)"
        else:
            dropped = f"dropped {self.prefix_tokens} prefix tokens (tokens 0..{self.prefix_tokens - 1}: class/distillation/register tokens)"
        return f"{dropped}; {self.sequence_length - self.prefix_tokens} patch tokens as a {self.grid[0]}×{self.grid[1]} grid ({self.source})"


def _grids(patches: int, input_size: tuple[int | None, int | None]) -> list[tuple[int, int]]:
    """(h, w) grids of ``patches`` tokens with the input's aspect ratio and a whole patch size."""
    height, width = input_size
    found = []
    for rows in range(1, patches + 1):
        if patches % rows:
            continue
        columns = patches // rows
        if height is None or width is None:
            if rows == columns:
                found.append((rows, columns))
        elif height * columns == width * rows and height % rows == 0 and width % columns == 0:
            found.append((rows, columns))
    return found


class TokenLayoutError(ModelError):
    """The spec's `layer_grid` / `prefix_tokens` (or their absence) do not fit the token sequence.

    Attributes:
        field: the spec key to fix ("layer_grid" or "prefix_tokens").
        fix: what to write instead, with the layouts that fit.
    """

    def __init__(self, message: str, field: str, fix: str) -> None:
        super().__init__(f"{message}; {fix}")
        self.message = message
        self.field = field
        self.fix = fix

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its three parts when it crosses a process (a Ray worker, a pytest-xdist worker).
        return (type(self), (self.message, self.field, self.fix))


def fitting_layouts(sequence_length: int, input_size: tuple[int | None, int | None]) -> list[tuple[int, tuple[int, int]]]:
    """(prefix tokens, grid) pairs a sequence of this length can be: at most MAX_INFERRED_PREFIX prefix tokens and a
    patch grid of more than one patch with the input's aspect ratio."""
    return [
        (prefix, grid)
        for prefix in range(0, min(MAX_INFERRED_PREFIX, sequence_length - 2) + 1)
        for grid in _grids(sequence_length - prefix, input_size)
        if grid[0] * grid[1] > 1
    ]


def _fitting(sequence_length: int, input_size: tuple[int | None, int | None]) -> str:
    layouts = fitting_layouts(sequence_length, input_size)
    if not layouts:
        return f"no patch grid of the {_size(input_size)} input fits {sequence_length} tokens"
    options = "; ".join(f"prefix_tokens: {prefix} with layer_grid: [{grid[0]}, {grid[1]}]" for prefix, grid in layouts[:6])
    return f"layouts that fit: {options}"


def infer_layout(
    sequence_length: int,
    input_size: tuple[int | None, int | None],
    *,
    layer_grid: Sequence[int] | None = None,
    prefix_tokens: int | None = None,
    patch_sizes: Sequence[int] = (),
    what: str = "the layer",
) -> TokenLayout | None:
    """The layout of a token sequence, or None when its length fits no patch grid of the input.

    Args:
        sequence_length: tokens in the sequence.
        input_size: the model input's (height, width); None entries when the model takes any size.
        layer_grid / prefix_tokens: the spec's keys, when given.
        patch_sizes: strides of the model's patch-embedding convolutions (kernel = stride), to break ties.
        what: names the sequence in error messages.

    Raises:
        TokenLayoutError: the spec's keys contradict the sequence, or several layouts fit (the message says which key
            to set, with the layouts that fit).
    """
    has = f"{what} has {sequence_length} tokens"
    if layer_grid is not None:
        rows, columns = int(layer_grid[0]), int(layer_grid[1])
        if rows * columns < 2:
            raise TokenLayoutError(f"{has}; layer_grid [{rows}, {columns}] is a single patch, so its map would be one value "
                                   "that locates nothing", "layer_grid",
                                   f"give the patch grid of the token layer ({_fitting(sequence_length, input_size)})")
        prefix = sequence_length - rows * columns if prefix_tokens is None else int(prefix_tokens)
        if prefix < 0 or prefix + rows * columns != sequence_length:
            given = f"layer_grid {rows}×{columns} ({rows * columns} patches)" + (
                f" plus prefix_tokens {prefix_tokens}" if prefix_tokens is not None else "")
            raise TokenLayoutError(f"{has}, but {given} makes {max(prefix, 0) + rows * columns}", "layer_grid",
                                   f"fix layer_grid / prefix_tokens in the spec ({_fitting(sequence_length, input_size)})")
        if prefix_tokens is None and prefix > MAX_INFERRED_PREFIX:
            raise TokenLayoutError(f"{has}; layer_grid [{rows}, {columns}] would leave {prefix} of them as prefix tokens "
                                   f"(class/distillation/register tokens are at most {MAX_INFERRED_PREFIX} in known models)",
                                   "layer_grid", f"give the patch grid of the token layer ({_fitting(sequence_length, input_size)}), "
                                   f"or write prefix_tokens: {prefix} if the model really has that many")
        return TokenLayout(sequence_length, prefix, (rows, columns), "layer_grid from the spec")
    if prefix_tokens is not None:
        patches = sequence_length - int(prefix_tokens)
        if patches < 2:
            raise TokenLayoutError(f"{has}, so prefix_tokens {prefix_tokens} leaves {max(patches, 0)} patch token(s) for the map",
                                   "prefix_tokens", f"give the number of class/distillation/register tokens before the patches "
                                   f"({_fitting(sequence_length, input_size)})")
        grids = _grids(patches, input_size)
        if len(grids) != 1:
            options = ", ".join(f"{r}×{c}" for r, c in grids) or "none with the input's aspect ratio"
            raise TokenLayoutError(
                f"{what}: {patches} patch tokens (after prefix_tokens {prefix_tokens}) fit no single grid of the "
                f"{_size(input_size)} input (candidates: {options})", "layer_grid" if grids else "prefix_tokens",
                f"set `layer_grid: [h, w]` in the spec ({_fitting(sequence_length, input_size)})"
            )
        return TokenLayout(sequence_length, int(prefix_tokens), grids[0], f"prefix_tokens from the spec, grid from the {_size(input_size)} input")
    candidates = fitting_layouts(sequence_length, input_size)
    source = f"from the {_size(input_size)} input"
    if len(candidates) > 1 and patch_sizes and input_size[0] is not None:
        height = input_size[0]
        matching = [(prefix, grid) for prefix, grid in candidates if height // grid[0] in patch_sizes]
        if matching:
            candidates = matching
            source = f"from the {_size(input_size)} input and patch size {height // matching[0][1][0]}"
    if not candidates:
        return None
    if len(candidates) > 1:
        options = "; ".join(f"prefix_tokens: {prefix} with layer_grid: [{grid[0]}, {grid[1]}]" for prefix, grid in candidates[:6])
        raise TokenLayoutError(f"{has}, which fit several patch grids of the {_size(input_size)} input ({options})", "layer_grid", _FIX)
    prefix, grid = candidates[0]
    return TokenLayout(sequence_length, prefix, grid, source)


def _size(input_size: tuple[int | None, int | None]) -> str:
    height, width = input_size
    return "any-size" if height is None or width is None else f"{height}×{width}"


def patch_sizes(model: Any) -> tuple[int, ...]:
    """Strides of the square patch-embedding convolutions (kernel size = strides > 1) anywhere in the model."""
    import keras

    sizes = set()
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.Conv2D):
            strides, kernel = tuple(layer.strides), tuple(layer.kernel_size)
            if strides == kernel and strides[0] == strides[1] and strides[0] > 1:
                sizes.add(int(strides[0]))
    return tuple(sorted(sizes))


def _all_layers(model: Any) -> list[Any]:
    flatten = getattr(model, "_flatten_layers", None)
    return list(flatten(include_self=False, recursive=True)) if callable(flatten) else []


def attention_layers(model: Any) -> list[tuple[str, Any]]:
    """(path, layer) of every keras.layers.MultiHeadAttention, nested ones included (any order)."""
    import keras

    found = []
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.MultiHeadAttention):
            found.append((str(getattr(layer, "path", None) or layer.name), layer))
    return found


def is_token_shape(shape: tuple[Any, ...] | None) -> bool:
    """A (batch, tokens, channels) shape with more than one token."""
    return shape is not None and len(shape) == 3 and shape[1] is not None and int(shape[1]) > 1


def tokens_to_grid(tokens: np.ndarray, layout: TokenLayout) -> np.ndarray:
    """(B, T, C) tokens → (B, h, w, C) patch grid, prefix dropped."""
    rows, columns = layout.grid
    patches = tokens[:, layout.prefix_tokens :, :]
    return patches.reshape(tokens.shape[0], rows, columns, tokens.shape[2])


def correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Pearson correlation of two maps; 1.0 when both are constant (nothing tells them apart)."""
    a = first.ravel() - first.mean()
    b = second.ravel() - second.mean()
    norm = math.sqrt(float(a @ a) * float(b @ b))
    return 1.0 if norm == 0.0 else float(a @ b) / norm
