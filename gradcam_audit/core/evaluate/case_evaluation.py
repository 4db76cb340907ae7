"""Turning an Explanation and a Case into the case's computed verdict: checks, region scores and a reason."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gradcam_audit.core.records.checks import Check, all_passed, decide, holds, limit_text, reasons
from gradcam_audit.core.engine.explain import Explanation, resolve_target
from gradcam_audit.core.records.evidence import FaithfulnessCurves
from gradcam_audit.core.evaluate.outside_sweep import outside_check
from gradcam_audit.core.records.evidence import OutsideSweep
from gradcam_audit.core.evaluate.regions import region_mask, region_outline
from gradcam_audit.core.evaluate.scoring import score_region
from gradcam_audit.core.records.regions import RegionEffect, RegionScore
from gradcam_audit.core.spec.model import Case, ClassRef, Spec

# A computed verdict is one of these; the ledger turns it into the final status (xfail, not run, ...).
VERDICTS = ("passed", "failed", "error")


@dataclass(frozen=True)
class Verdict:
    """What the numbers say about one case: ``status`` is "passed", "failed" or "error"."""

    status: str
    reason: str
    regions: tuple[RegionScore, ...]
    checks: tuple[Check, ...] = ()  # case-level checks (the expected class)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def class_index(reference: ClassRef, labels: tuple[str, ...] | None) -> int:
    """A class's index from its index or name (the spec loader has checked names; direct callers may not)."""
    return resolve_target(reference, labels)


def non_finite_reason(explanation: Explanation) -> str | None:
    """Why the model's numbers cannot be trusted (NaN or infinity in its output), or None."""
    for name, values in (("output scores (logits)", explanation.scores), ("probabilities", explanation.probabilities)):
        if not np.all(np.isfinite(values)):
            bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
            return (f"the model's {name} contain NaN or infinity ({bad} of {np.size(values)} values): its output cannot be "
                    "explained or trusted; check the weights and the preprocessing (e.g. pixels not scaled as the model expects)")
    if not np.all(np.isfinite(explanation.heatmap_full)):
        return "the heatmap contains NaN or infinity: the activations or gradients overflowed at this layer"
    return None


def _label_count_reason(spec: Spec, explanation: Explanation) -> str | None:
    classes = int(np.size(explanation.scores))
    if spec.labels is not None and len(spec.labels) != classes:
        return (f"the spec names {len(spec.labels)} labels but the model's output has {classes} classes: every class "
                f"needs a label in output order; fix `labels` in {spec.path.name}")
    return None


# (metric, comparison, the Case attribute holding the limit, what a miss means) of each faithfulness check.
_FAITHFULNESS_CHECKS: tuple[tuple[str, str, str, str], ...] = (
    ("deletion_auc", "<=", "max_deletion_auc",
     "blacking out the heatmap's hottest pixels barely lowers p(target): the map misses what the model uses"),
    ("insertion_auc", ">=", "min_insertion_auc", "the heatmap's hottest pixels alone do not bring p(target) back"),
)


def faithfulness_checks(case: Case, curves: FaithfulnessCurves | None) -> list[Check]:
    """The case's checks on its deletion / insertion areas; curves that were not measured never pass."""
    checks: list[Check] = []
    for metric, comparison, key, meaning in _FAITHFULNESS_CHECKS:
        limit = getattr(case, key)
        if limit is None:
            continue
        value = getattr(curves, metric) if curves is not None else None
        opposite = ">" if comparison == "<=" else "<"
        reason = None if value is None else f"{metric.replace('_auc', ' AUC')} {value:.3f} {opposite} {key} {limit_text(limit)} ({meaning})"
        checks.append(decide("faithfulness", metric, value, comparison, float(limit), threshold_key=key, reason=reason))
    return checks


def evaluate_case(spec: Spec, case: Case, explanation: Explanation, effects: Mapping[str, RegionEffect] | None = None,
                  faithfulness: FaithfulnessCurves | None = None, outside: OutsideSweep | None = None) -> Verdict:
    """Score every region and check the expected class; never NaN, never a silent pass.

    ``faithfulness`` holds the case's deletion / insertion curves where it sets max_deletion_auc / min_insertion_auc
    (also computed by the runner); missing curves fail those checks. ``effects`` holds, by region name, the measured causal effect of each region with max_effect / min_effect
    (computed by the runner: one forward pass on the image without the region). A region whose effect is checked
    but missing is an error: an effect that was not measured never passes.
    """
    problem = non_finite_reason(explanation) or _label_count_reason(spec, explanation)
    if problem is not None:
        return Verdict("error", problem, ())
    if explanation.target_problem:  # a detection case whose box no detection matches: failed, in plain words
        return Verdict("failed", explanation.target_problem, ())
    if explanation.degenerate:
        return Verdict("failed", explanation.degenerate, ())
    heatmap = explanation.heatmap_full
    if not float(heatmap.sum()) > 0:
        return Verdict("failed", "the heatmap is zero everywhere on the part of the image the model saw", ())
    size = explanation.geometry.original_size
    visible = None if explanation.geometry.sees_everything else explanation.geometry.visible_mask()
    effects = effects or {}
    unmeasured = [region.name for region in case.regions if region.has_effect_check and region.name not in effects]
    if unmeasured:
        return Verdict("error", f"the causal effect of {', '.join(map(repr, unmeasured))} was not measured (no image without the "
                       "region was computed); call the runner, or pass effects=", ())
    scores = []
    for region in case.regions:
        mask = region_mask(region.shape, size)
        scores.append(score_region(heatmap, mask, region, visible, region_outline(region.shape, size, mask), effects.get(region.name)))
    case_checks: list[Check] = []
    if case.expect_class is not None:
        expected = class_index(case.expect_class, spec.labels)
        predicted_label = spec.label_of(explanation.predicted_index) or str(explanation.predicted_index)
        probability = float(explanation.probabilities[explanation.predicted_index])
        expected_label = spec.label_of(expected) or str(expected)
        # Compared by index (two classes may share a label); recorded by name, which is what readers want to see.
        matches = holds(explanation.predicted_index, "==", expected)
        case_checks.append(Check("prediction", "predicted_class", predicted_label, expected_label, "==", matches,
                                 "" if matches else f"predicted {predicted_label!r} (p={probability:.2f}), expected {expected_label!r}"))
    case_checks.extend(faithfulness_checks(case, faithfulness))
    outside_decided = outside_check(case, outside)  # `outside`: the runner's sweep beyond the boxes (core/evaluate/outside_sweep.py)
    case_checks.extend([outside_decided] if outside_decided is not None else [])
    region_reasons = [f"{score.name}: {'; '.join(score.failures)}" for score in scores if not score.passed]
    all_reasons = [*reasons(tuple(case_checks)), *region_reasons]
    passed = all_passed(tuple(case_checks)) and all(score.passed for score in scores)
    return Verdict("passed" if passed else "failed", "; ".join(all_reasons), tuple(scores), tuple(case_checks))
