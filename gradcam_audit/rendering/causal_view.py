"""What the report shows of the causal evidence: each removed region beside the original, and transplants that flipped.

Formatting only: the effects and flips were measured and decided in the core (`core/causal.py`, `core/gates.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from gradcam_audit.core.ledger import CaseEntry, GateEntry
from gradcam_audit.rendering.overlay import removed_kind

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
