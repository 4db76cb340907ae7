"""Turning an Explanation and a Case into a verdict with region scores and a reason in words."""

from __future__ import annotations

from dataclasses import dataclass

from gradcam_audit.core.engine.explain import Explanation, resolve_target
from gradcam_audit.core.regions import region_mask, region_outline
from gradcam_audit.core.scoring import RegionScore, score_region
from gradcam_audit.core.spec.model import Case, ClassRef, Spec


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str
    regions: tuple[RegionScore, ...]


def class_index(reference: ClassRef, labels: tuple[str, ...] | None) -> int:
    """A class's index from its index or name (the spec loader has checked names; direct callers may not)."""
    return resolve_target(reference, labels)


def evaluate_case(spec: Spec, case: Case, explanation: Explanation) -> Verdict:
    """Score every region and check the expected class; never NaN, never a silent pass."""
    if explanation.degenerate:
        return Verdict(False, explanation.degenerate, ())
    heatmap = explanation.heatmap_full
    if not float(heatmap.sum()) > 0:
        return Verdict(False, "the heatmap is zero everywhere on the part of the image the model saw", ())
    size = explanation.geometry.original_size
    visible = None if explanation.geometry.sees_everything else explanation.geometry.visible_mask()
    scores = []
    for region in case.regions:
        mask = region_mask(region.shape, size)
        scores.append(score_region(heatmap, mask, region, visible, region_outline(region.shape, size, mask)))
    reasons = [f"{score.name}: {'; '.join(score.failures)}" for score in scores if not score.passed]
    if case.expect_class is not None:
        expected = class_index(case.expect_class, spec.labels)
        if explanation.predicted_index != expected:
            predicted_label = spec.label_of(explanation.predicted_index) or str(explanation.predicted_index)
            probability = float(explanation.probabilities[explanation.predicted_index])
            expected_label = spec.label_of(expected) or str(expected)
            reasons.insert(0, f"predicted {predicted_label!r} (p={probability:.2f}), expected {expected_label!r}")
    return Verdict(not reasons, "; ".join(reasons), tuple(scores))
