"""The regression verdict: each case compared with its baseline case under its rules, the comparison's checks
applied to its result, and a finished run compared after the fact (``gradcam-audit compare``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from gradcam_audit.core.baseline.files import Baseline
from gradcam_audit.core.baseline.rules import override_rules, resolve_rules
from gradcam_audit.core.baseline.similarity import heatmap_similarity
from gradcam_audit.core.ledger.entries import SELECTION_CAUSES, CaseEntry
from gradcam_audit.core.ledger.judging import final_case_status, judge_gate
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.records.checks import Check, decide, limit_text, reasons
from gradcam_audit.core.records.comparison import BaselineComparison, BaselineSummary, CaseRules, MetricDelta, RemovedCase
from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.errors import ResultsError

PREFIX = "regressed vs baseline: "


def _signed_percent(share: float) -> str:
    return f"{share:+.0%}".replace("-", "−")


def _lift_drop(baseline: float, candidate: float) -> float:
    """How much of its baseline lift a region lost (0.3 = 30 % lower; negative when it rose)."""
    if baseline > 0:
        return (baseline - candidate) / baseline
    return 0.0 if candidate >= baseline else math.inf


def compare_case(result: CaseResult, found: tuple[CaseEntry, int] | None, rules: CaseRules) -> BaselineComparison:
    """The regression checks of ``result`` (the candidate's own computation) against its baseline case."""
    if found is None:
        return BaselineComparison("new", False, verdict_before=result.verdict, reason_before=result.reason,
                                  notes=("no case with this spec path, id and method in the baseline",))
    entry, source = found
    base = entry.result
    if base is None:
        return BaselineComparison("new", False, baseline_status=entry.status, verdict_before=result.verdict, reason_before=result.reason,
                                  images=dict(entry.images), source=source,
                                  notes=(f"the baseline case has no result to compare with (it ended {entry.status} there)",))
    checks: list[Check] = []
    notes: list[str] = []
    if rules.must_still_pass and base.verdict == "passed":
        checks.append(decide("baseline", "still_passes", result.verdict == "passed", "==", True, threshold_key="baseline.must_still_pass",
                             reason=f"{PREFIX}passed in the baseline, {result.verdict} now"))
    deltas: list[MetricDelta] = []
    improved = base.verdict != "passed" and result.verdict == "passed"
    baseline_regions = {region.name: region for region in base.regions}
    for region in result.regions:
        before = baseline_regions.get(region.name)
        if before is None:
            notes.append(f"region “{region.name}” is new since the baseline")
            continue
        region_rules = rules.region(region.name)
        for metric, old, new in (("mass", before.mass, region.mass), ("lift", before.lift, region.lift)):
            deltas.append(MetricDelta(region.name, region.role, metric, old, new, new - old, (new - old) / old if old else None))
        if region.role == "forbidden":
            rise = region.mass - before.mass
            limit = region_rules.max_mass_rise
            checks.append(decide(region.name, "mass_rise", rise, "<=", limit, threshold_key="baseline.max_mass_rise",
                                 reason=f"{PREFIX}{region.name} mass {before.mass:.3f} → {region.mass:.3f} ({rise:+.3f}, allowed "
                                        f"+{limit_text(limit)})"))
            improved = improved or -rise > limit
        elif region.role == "required":
            drop = _lift_drop(before.lift, region.lift)
            limit = region_rules.max_lift_drop
            checks.append(decide(region.name, "lift_drop", drop if math.isfinite(drop) else None, "<=", limit,
                                 threshold_key="baseline.max_lift_drop",
                                 reason=f"{PREFIX}{region.name} lift {before.lift:.2f} → {region.lift:.2f} ({_signed_percent(-drop)}, "
                                        f"allowed −{limit:.0%})"))
            improved = improved or (before.lift > 0 and -drop > limit)
    gone = sorted(set(baseline_regions) - {region.name for region in result.regions})
    if gone:
        notes.append("region(s) gone since the baseline: " + ", ".join(f"“{name}”" for name in gone))
    similarity: float | None = None
    why_none = ""
    if result.heatmap is None or base.heatmap is None:
        side = "the baseline" if base.heatmap is None else "this run"
        why_none = f"{side} has no heatmap for this case"
    else:
        try:
            similarity, why = heatmap_similarity(result.heatmap, base.heatmap)
        except ResultsError as error:
            similarity, why = None, f"the baseline's heatmap cannot be read ({error})"
        if similarity is None:
            why_none = why
        elif why:
            notes.append(why)
    if rules.min_heatmap_similarity is not None:
        limit = rules.min_heatmap_similarity
        reason = (f"{PREFIX}heatmap similarity {similarity:.3f} (Spearman) < {limit_text(limit)}" if similarity is not None
                  else f"{PREFIX}heatmap similarity cannot be judged: {why_none}")
        checks.append(decide("heatmap", "heatmap_similarity", similarity, ">=", limit, threshold_key="baseline.min_heatmap_similarity",
                             reason=reason))
    if base.model_sha256 and base.model_sha256 == result.model_sha256:
        notes.append("comparing a model with itself: the baseline's model file has the same SHA-256")
    if base.layer and result.layer and base.layer != result.layer:
        notes.append(f"the explained layer changed: {base.layer} in the baseline, {result.layer} now")
    regressed = any(not check.passed for check in checks)
    status = "regressed" if regressed else "improved" if improved else "unchanged"
    return BaselineComparison(status, regressed, tuple(checks), tuple(deltas), similarity, entry.status, base.verdict, base.model_sha256,
                              result.verdict, result.reason, dict(entry.images), source, tuple(notes), heatmap=base.heatmap)


def compare_unfinished(entry: CaseEntry, found: tuple[CaseEntry, int] | None, rules: CaseRules) -> BaselineComparison | None:
    """The comparison of a case that has no computation now (an error before it computed, or not run for a reason
    other than the user's selection) with its baseline case: under ``must_still_pass`` a baseline pass is a
    regression. None when there is nothing to decide (no baseline case, or it did not pass there)."""
    if found is None or entry.status == "skipped" or (entry.status == "not_run" and entry.cause in SELECTION_CAUSES):
        return None
    base_entry, source = found
    base = base_entry.result
    if base is None or base.verdict != "passed" or not rules.must_still_pass:
        return None
    now = "did not run" if entry.status == "not_run" else entry.status
    check = decide("baseline", "still_passes", False, "==", True, threshold_key="baseline.must_still_pass",
                   reason=f"{PREFIX}passed in the baseline, {now} now ({entry.reason.splitlines()[0] if entry.reason else 'no reason given'})")
    return BaselineComparison("regressed", True, (check,), baseline_status=base_entry.status, baseline_verdict=base.verdict,
                              baseline_model_sha256=base.model_sha256, verdict_before=entry.status, reason_before=entry.reason,
                              images=dict(base_entry.images), source=source, heatmap=base.heatmap)


def with_unfinished_compared(entry: CaseEntry, baseline: Baseline, rules: CaseRules) -> CaseEntry:
    """``entry`` with its comparison recorded when it has no result to compare (see `compare_unfinished`)."""
    if entry.result is not None:
        return entry
    return replace(entry, baseline=compare_unfinished(entry, baseline.find(entry.key), rules))


def without_baseline(result: CaseResult) -> CaseResult:
    """The case's own computation: an earlier comparison's checks, verdict and reason taken back out."""
    comparison = result.baseline
    if comparison is None:
        return result
    return replace(result, verdict=comparison.verdict_before or result.verdict, reason=comparison.reason_before,
                   checks=tuple(check for check in result.checks if not check.threshold_key.startswith("baseline.")), baseline=None)


def apply_comparison(result: CaseResult, comparison: BaselineComparison) -> CaseResult:
    """The case's result with the comparison's checks among its checks: a regression fails a case that passed."""
    verdict = "failed" if comparison.regressed and result.verdict == "passed" else result.verdict
    reason = "; ".join(part for part in (result.reason, *reasons(comparison.checks)) if part)
    return replace(result, verdict=verdict, reason=reason, checks=(*result.checks, *comparison.checks), baseline=comparison)


def compare_with_baseline(result: CaseResult, baseline: Baseline, rules: CaseRules) -> CaseResult:
    """``result`` compared with its case in ``baseline`` (an earlier comparison is replaced)."""
    own = without_baseline(result)
    return apply_comparison(own, compare_case(own, baseline.find((own.spec, own.id, own.method)), rules))


# -- the run's side ------------------------------------------------------------------------------------------


def summarize(baseline: Baseline, cases: Iterable[CaseEntry]) -> BaselineSummary:
    """Which baseline cases the run no longer has, and notes about the whole comparison."""
    cases = tuple(cases)
    matched = {found[0].key for found in (baseline.find(case.key) for case in cases) if found is not None}
    removed = tuple(RemovedCase(entry.spec, entry.id, entry.method, entry.status)
                    for key, (entry, _) in baseline.cases.items() if key not in matched and entry.method != "-")
    notes = list(baseline.notes)
    compared = [case.result for case in cases if case.result is not None and case.result.baseline is not None
                and case.result.baseline.baseline_model_sha256 is not None]
    same = [result for result in compared if result.model_sha256 == result.baseline.baseline_model_sha256]  # type: ignore[union-attr]
    if same:
        scope = "every compared case" if len(same) == len(compared) else f"{len(same)} of {len(compared)} compared cases"
        notes.append(f"comparing a model with itself: {scope} ran the same model file as the baseline (equal SHA-256 "
                     f"{(same[0].model_sha256 or '')[:12]}…)")
    return BaselineSummary(baseline.sources, baseline.schemas, removed, tuple(notes), baseline.folders)


def rebaseline_run(candidate: RunResults, baseline: Baseline, rule_settings: Mapping[str, Any] | None = None) -> RunResults:
    """A finished run compared with ``baseline`` after the fact (``gradcam-audit compare``): each computed case gets
    the regression checks, its final status follows from them, and the gates are judged again from the new statuses.

    Each case keeps the rules recorded in its results (from its spec and ini); ``rule_settings`` replace them."""
    cases: list[CaseEntry] = []
    for entry in candidate.cases:
        if entry.result is None or entry.status in ("skipped", "not_run"):
            rules = override_rules(entry.result.baseline_rules if entry.result is not None and entry.result.baseline_rules else CaseRules(),
                                   rule_settings or {})
            cases.append(with_unfinished_compared(replace(entry, baseline=None), baseline, rules))
            continue
        own = without_baseline(entry.result)
        rules = own.baseline_rules or resolve_rules({}, (), ((region.name, ()) for region in own.regions))
        result = compare_with_baseline(own, baseline, override_rules(rules, rule_settings or {}))
        status, extra = final_case_status(result.verdict, entry.xfail)
        cases.append(replace(entry, status=status, reason=extra or result.reason, result=result))
    gates = tuple(judge_gate(gate, cases) if gate.status in ("passed", "failed", "xfailed", "xpassed") else gate for gate in candidate.gates)
    return replace(candidate, cases=tuple(cases), gates=gates, baseline=summarize(baseline, cases))
