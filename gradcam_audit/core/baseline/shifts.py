"""The comparison counted for every renderer: per suite, how many cases regressed, improved, ..., and how the
suite's numbers moved since the baseline."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.records.comparison import BaselineComparison


def comparison_counts(results: RunResults) -> dict[str, Counter[str]]:
    """Per suite: how many cases regressed, improved, stayed unchanged, are new, or were removed."""
    counts: dict[str, Counter[str]] = {}
    for case in results.cases:
        if case.comparison is not None:
            counts.setdefault(case.spec, Counter())[case.comparison.status] += 1
    if results.baseline is not None:
        for removed in results.baseline.removed:
            counts.setdefault(removed.spec, Counter())["removed"] += 1
    return counts


@dataclass(frozen=True)
class SuiteShift:
    """A suite-level number in the baseline and now, over the cases compared (``cases``)."""

    suite: str
    metric: str  # "pass_rate" | "forbidden_mass" | "required_lift" | "heatmap_similarity" (no baseline side)
    baseline: float | None
    candidate: float | None
    cases: int  # cases (regions, for the region means) the numbers are taken over

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None or self.candidate is None else self.candidate - self.baseline


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def suite_shifts(results: RunResults) -> tuple[SuiteShift, ...]:
    """Per suite: pass rate, mean forbidden-region mass, mean required-region lift and mean heatmap similarity,
    in the baseline and now, over the cases that have a baseline result."""
    by_suite: dict[str, list[BaselineComparison]] = {}
    for case in results.cases:
        comparison = case.comparison
        if comparison is not None and comparison.baseline_verdict:
            by_suite.setdefault(case.spec, []).append(comparison)
    shifts: list[SuiteShift] = []
    for suite, comparisons in sorted(by_suite.items()):
        shifts.append(SuiteShift(suite, "pass_rate", _mean([float(item.baseline_verdict == "passed") for item in comparisons]),
                                 _mean([float(item.verdict_before == "passed") for item in comparisons]), len(comparisons)))
        for metric, role, name in (("forbidden_mass", "forbidden", "mass"), ("required_lift", "required", "lift")):
            deltas = [delta for item in comparisons for delta in item.deltas if delta.role == role and delta.metric == name]
            if deltas:
                shifts.append(SuiteShift(suite, metric, _mean([delta.baseline for delta in deltas]), _mean([delta.candidate for delta in deltas]),
                                         len(deltas)))
        similarities = [item.heatmap_similarity for item in comparisons if item.heatmap_similarity is not None]
        if similarities:
            shifts.append(SuiteShift(suite, "heatmap_similarity", None, _mean(similarities), len(similarities)))
    return tuple(shifts)
