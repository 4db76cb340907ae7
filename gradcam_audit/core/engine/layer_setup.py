"""Where a CAM engine looks: the explained layer (CNN map, token layer or attention query) and the attention plan."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gradcam_audit.core.engine.capture import record_calls
from gradcam_audit.core.engine.layers import LayerChoice, _output_shape, auto_layer, iter_layers, resolve_layer, task_auto_layer
from gradcam_audit.core.engine.model_call import call_model
from gradcam_audit.core.engine.tokens import TokenLayout, attention_layers, infer_layout, is_token_shape, patch_sizes
from gradcam_audit.core.spec.suggest import listing
from gradcam_audit.errors import ModelError


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



class LayerSetup:
    """The part of a CAM engine that inspects the model: which layer to capture and which attention to read.

    Set by the engine before ``choose_layer`` runs: the model, its input shape, the output index and the token
    layout hints of the spec.
    """

    input_shape: tuple[int | None, int | None, int]
    output_index: int
    layer_grid: tuple[int, ...] | None
    prefix_tokens: int | None
    _probe_calls: list[tuple[str, tuple[Any, ...]]] | None
    _attention_plan: AttentionPlan | None
    _patch_sizes: tuple[int, ...] | None

    @property
    def model(self) -> Any:
        raise NotImplementedError

    def _probe(self) -> list[tuple[str, tuple[Any, ...]]]:
        """(path, output shape) of every layer and MultiHeadAttention in the order one forward pass calls them."""
        if self._probe_calls is None:
            height, width, channels = self.input_shape
            dummy = np.zeros((1, height or 64, width or 64, channels), dtype=np.float32)
            listed = list(iter_layers(self.model))
            seen = {id(layer) for _, layer in listed}
            listed += [(path, layer) for path, layer in attention_layers(self.model) if id(layer) not in seen]
            with record_calls(listed) as recording:
                call_model(self.model, dummy)
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
        task = getattr(self, "task", None)
        if layer == "auto" and task is not None:
            return task_auto_layer(self.model, self.output_index, self._probe(), task.name)
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

