"""Suite-level gates: pass rate and mean mass / lift over a spec's cases, overall or per class."""

from __future__ import annotations

from collections.abc import Sequence

from gradcam_audit.core.results import CaseResult, GateResult
from gradcam_audit.core.spec.model import Gate


def _numbers(cases: Sequence[CaseResult], invalid_cases: int = 0) -> dict[str, float | None]:
    counted = [case for case in cases if case.status != "skipped"]
    passed = [case for case in counted if case.status == "passed"]
    total = len(counted) + invalid_cases
    required = [region for case in counted for region in case.regions if region.role == "required"]
    return {
        "pass_rate": len(passed) / total if total else None,
        "mean_mass": sum(region.mass for region in required) / len(required) if required else None,
        "mean_lift": sum(region.lift for region in required) / len(required) if required else None,
        "cases": float(total),
    }


def _misses(numbers: dict[str, float | None], gate: Gate, scope: str) -> list[str]:
    misses: list[str] = []
    for key, threshold in (("pass_rate", gate.min_pass_rate), ("mean_mass", gate.min_mean_mass), ("mean_lift", gate.min_mean_lift)):
        value = numbers[key]
        if threshold is None:
            continue
        if value is None:
            misses.append(f"{scope}{key} cannot be computed (no cases or no required regions)")
        elif value < threshold:
            misses.append(f"{scope}{key} {value:.3f} < {threshold:g}")
    return misses


def evaluate_gate(spec_name: str, gate: Gate, cases: Sequence[CaseResult], invalid_cases: int = 0) -> GateResult:
    """Gate verdict over case verdicts; invalid cases count as not passed."""
    overall = _numbers(cases, invalid_cases)
    misses = _misses(overall, gate, "")
    per_class: dict[str, dict[str, float | None]] = {}
    if gate.per_class:
        groups: dict[str, list[CaseResult]] = {}
        for case in cases:
            label = (case.target.label or str(case.target.index)) if case.target else "unknown"
            groups.setdefault(label, []).append(case)
        for label, group in sorted(groups.items()):
            per_class[label] = _numbers(group)
            misses.extend(_misses(per_class[label], gate, f"class {label!r}: "))
    return GateResult(
        spec=spec_name,
        status="failed" if misses else "passed",
        reason="; ".join(misses),
        pass_rate=overall["pass_rate"],
        mean_mass=overall["mean_mass"],
        mean_lift=overall["mean_lift"],
        min_pass_rate=gate.min_pass_rate,
        min_mean_mass=gate.min_mean_mass,
        min_mean_lift=gate.min_mean_lift,
        per_class=per_class,
        cases_counted=int(overall["cases"] or 0),
    )
