"""What the report shows of the causal evidence: each removed region beside the original, transplants that flipped,
a case's deletion / insertion curves, and the cascading weight randomisation of a gate.

Formatting only: the effects and flips were measured and decided in the core (`core/evaluate/causal.py`, `core/evaluate/gates.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from gradcam_audit.core.records.comparison import CompactHeatmap
from gradcam_audit.core.ledger.entries import CaseEntry, GateEntry
from gradcam_audit.rendering.pictures.overlay import removed_kind

REMOVAL_WORDS = {
    "inpaint": "filled in from its surroundings",
    "mean": "painted with the mean colour around it",
    "blur": "blurred",
    "noise": "replaced by noise",
}
FLIPS_SHOWN = 20


@dataclass(frozen=True)
class RemovalView:
    """One region whose effect was measured: the picture without it and the probabilities with and without it."""

    region: str
    removal: str
    kind: str  # the key of the picture without the region in the case's images (may be absent: no picture written)
    caption: str
    state: str  # "ok" | "fail" | "info": whether the region's effect checks held


def removal_views(case: CaseEntry) -> tuple[RemovalView, ...]:
    result = case.result
    if result is None:
        return ()
    target = result.target.name if result.target is not None else "target"
    views = []
    for index, region in enumerate(result.regions):
        causal = region.causal
        if causal is None:
            continue
        effect_checks = [check for check in region.checks if check.metric == "effect"]
        state = "info" if not effect_checks else ("ok" if all(check.passed for check in effect_checks) else "fail")
        caption = (f"Without “{region.name}” ({REMOVAL_WORDS.get(causal.removal, causal.removal)}): p({target}) "
                   f"{causal.probability_before:.3f} → {causal.probability_after:.3f} (effect {causal.effect:+.3f})")
        views.append(RemovalView(region.name, causal.removal, removed_kind(index), caption, state))
    return tuple(views)


def flip_lines(gate: GateEntry) -> tuple[str, ...]:
    """The transplant pairs whose prediction changed to the donor's class, one line each (the first FLIPS_SHOWN)."""
    result = gate.result
    if result is None:
        return ()
    flipped = result.flipped_pairs
    lines = [f"{pair.donor}’s region pasted into {pair.recipient}: predicted “{pair.labels[1] or pair.predicted_before}” → "
             f"“{pair.labels[2] or pair.predicted_after}” (p={pair.donor_probability_after:.2f})" for pair in flipped[:FLIPS_SHOWN]]
    if len(flipped) > FLIPS_SHOWN:
        lines.append(f"… and {len(flipped) - FLIPS_SHOWN} more of {len(result.transplant)} pairs")
    return tuple(lines)


@dataclass(frozen=True)
class FaithfulnessView:
    """A case's deletion and insertion curves: the two areas in words and the curves as SVG polyline points."""

    summary: str
    deletion_points: str  # "x,y x,y …" in a CURVE_WIDTH × CURVE_HEIGHT box, y = 0 at the top
    insertion_points: str
    state: str  # "ok" | "fail" | "info": whether the case's faithfulness checks held


CURVE_WIDTH, CURVE_HEIGHT = 120, 60


def _points(values: tuple[float, ...]) -> str:
    last = max(1, len(values) - 1)
    return " ".join(f"{index / last * CURVE_WIDTH:.1f},{(1.0 - min(max(value, 0.0), 1.0)) * CURVE_HEIGHT:.1f}"
                    for index, value in enumerate(values))


def faithfulness_view(case: CaseEntry) -> FaithfulnessView | None:
    result = case.result
    if result is None or result.faithfulness is None:
        return None
    curves = result.faithfulness
    checks = {check.metric: check for check in result.checks if check.subject == "faithfulness"}
    target = result.target.name if result.target is not None else "target"

    def part(metric: str, words: str, value: float) -> str:
        check = checks.get(metric)
        limit = f" (must be {'≤' if check.comparison == '<=' else '≥'} {float(check.limit or 0):g})" if check is not None else ""
        return f"{words} {value:.3f}{limit}"

    summary = (f"p({target}) as the heatmap's hottest pixels are blacked out ({curves.steps} steps): "
               f"{part('deletion_auc', 'deletion AUC', curves.deletion_auc)}, lower is better; as they are put back into a blurred "
               f"copy: {part('insertion_auc', 'insertion AUC', curves.insertion_auc)}, higher is better")
    state = "info" if not checks else ("ok" if all(check.passed for check in checks.values()) else "fail")
    return FaithfulnessView(summary, _points(curves.deletion), _points(curves.insertion), state)


@dataclass(frozen=True)
class CascadeStageView:
    """One stage of the cascading randomisation: which layers were re-initialised, the similarity, the map."""

    caption: str
    picture: str  # a small PNG of the stage's heatmap, as a data URI ("" when the map was degenerate)


CASCADE_PICTURE_SIDE = 96


def _heatmap_picture(heatmap: CompactHeatmap | None, colormap: str) -> str:
    if heatmap is None:
        return ""
    import base64
    import io

    from PIL import Image

    from gradcam_audit.rendering.pictures.overlay import colorize

    colours = colorize(heatmap.decode(), colormap)
    picture = Image.fromarray(colours).resize((CASCADE_PICTURE_SIDE, CASCADE_PICTURE_SIDE), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def cascade_views(gate: GateEntry, colormap: str) -> tuple[CascadeStageView, ...]:
    """One picture per stage of the cascade's case, top layer down (the case's own card shows the trained model's map)."""
    result = gate.result
    if result is None or not result.cascade:
        return ()
    views = []
    for stage in result.cascade:
        caption = (f"top {stage.layers_randomized} of {stage.layers_total} layers re-initialised (down to {stage.deepest}): "
                   f"similarity {stage.similarity:+.2f}")
        views.append(CascadeStageView(caption, _heatmap_picture(stage.heatmap, colormap)))
    return tuple(views)
