"""The engine settings a spec gives each of its cases (layer, output, score, input fitting, token layout), as one object.

Built once per spec (``Spec.engine``) and handed whole to the engine, so a new setting reaches every call (the cases,
the causal checks, the outside sweep, the gate's experiments) and the batch key by being added here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:  # the model module builds these settings; at run time only its annotations name Preprocess
    from gradcam_audit.core.spec.model import Preprocess


class ForwardOptions(TypedDict):
    """Keyword arguments of ``core.engine.forward.forward_probabilities`` that come from the spec."""

    layer: str
    output: str | int
    score: str
    preprocess: Preprocess
    resize: str
    resize_filter: str


class ExplainOptions(ForwardOptions):
    """Keyword arguments of ``core.engine.explain.explain`` that come from the spec."""

    layer_grid: tuple[int, int] | None
    prefix_tokens: int | None


@dataclass(frozen=True)
class EngineSettings:
    """How the engine runs a spec's model on its cases; ``resize_filter`` is the resolved filter (never None)."""

    layer: str
    output: str | int
    score: str
    preprocess: Preprocess
    resize: str
    resize_filter: str
    layer_grid: tuple[int, int] | None
    prefix_tokens: int | None

    def forward_options(self, layer: str | None = None) -> ForwardOptions:
        """The settings a forward pass takes; ``layer``: the layer an explanation resolved "auto" to, if known."""
        return ForwardOptions(layer=self.layer if layer is None else layer, output=self.output, score=self.score, preprocess=self.preprocess,
                              resize=self.resize, resize_filter=self.resize_filter)

    def explain_options(self, layer: str | None = None) -> ExplainOptions:
        """The settings an explanation takes; ``layer``: the layer an earlier explanation resolved "auto" to, if known."""
        return ExplainOptions(**self.forward_options(layer), layer_grid=self.layer_grid, prefix_tokens=self.prefix_tokens)
