"""Suite-level gates: pass rate and mean mass / lift over a spec's cases, overall or per class, as checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gradcam_audit.core.checks import Check, all_passed, decide, reasons
from gradcam_audit.core.results import CaseResult
from gradcam_audit.core.spec.model import Gate

# (measurement, threshold attribute of Gate) in the order the checks are listed.
GATE_METRICS: tuple[tuple[str, str], ...] = (("pass_rate", "min_pass_rate"), ("mean_mass", "min_mean_mass"), ("mean_lift", "min_mean_lift"))


@dataclass(frozen=True)
class GateResult:
    """A suite-level gate over one spec's cases: the measurements and every decided check.

    ``status`` is the computed verdict: "passed", "failed" or "error" (the gate could not be judged).
    """

    spec: str
    status: str
    reason: str
    measurements: dict[str, float | None]
    checks: tuple[Check, ...] = ()
    per_class: dict[str, dict[str, float | None]] = field(default_factory=dict)
    cases_counted: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "status": self.status,
            "reason": self.reason,
            "measurements": dict(self.measurements),
            "checks": [check.to_dict() for check in self.checks],
            "per_class": {label: dict(numbers) for label, numbers in self.per_class.items()},
            "cases_counted": self.cases_counted,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> GateResult:
        return GateResult(
            spec=str(data["spec"]),
            status=str(data["status"]),
            reason=str(data.get("reason", "")),
            measurements={str(key): (None if value is None else float(value)) for key, value in dict(data.get("measurements", {})).items()},
            checks=tuple(Check.from_dict(check) for check in data.get("checks", [])),
            per_class={str(label): {str(key): (None if value is None else float(value)) for key, value in dict(numbers).items()}
                       for label, numbers in dict(data.get("per_class", {})).items()},
            cases_counted=int(data.get("cases_counted", 0)),
        )


@dataclass(frozen=True)
class GateCase:
    """What a gate needs of one case: its final status and, where it was computed, its result."""

    status: str
    result: CaseResult | None
    id: str = ""


def _numbers(cases: Sequence[GateCase], invalid_cases: int = 0) -> dict[str, float | None]:
    counted = [case for case in cases if case.status != "skipped"]
    passed = [case for case in counted if case.status == "passed"]
    total = len(counted) + invalid_cases
    required = [region for case in counted if case.result is not None for region in case.result.regions if region.role == "required"]
    return {
        "pass_rate": len(passed) / total if total else None,
        "mean_mass": sum(region.mass for region in required) / len(required) if required else None,
        "mean_lift": sum(region.lift for region in required) / len(required) if required else None,
        "cases": float(total),
    }


def _checks(numbers: dict[str, float | None], gate: Gate, subject: str) -> list[Check]:
    checks: list[Check] = []
    for measurement, threshold_key in GATE_METRICS:
        limit = getattr(gate, threshold_key)
        if limit is None:
            continue
        value = numbers[measurement]
        scope = "" if subject == "gate" else f"{subject}: "
        reason = (f"{scope}{measurement} cannot be computed (no cases or no required regions)" if value is None
                  else f"{scope}{measurement} {value:.3f} < {threshold_key} {limit:g}")
        checks.append(decide(subject, measurement, value, ">=", float(limit), threshold_key=threshold_key, reason=reason))
    return checks


def evaluate_gate(spec_name: str, gate: Gate, cases: Sequence[GateCase], invalid_cases: int = 0) -> GateResult:
    """The gate's verdict over its cases' final statuses; invalid cases count as not passed.

    A case that errored makes the gate an error: its numbers would be computed over a different set of cases.
    """
    overall = _numbers(cases, invalid_cases)
    errored = [case.id for case in cases if case.status == "error"]
    measurements = {key: overall[key] for key, _ in GATE_METRICS}
    counted = int(overall["cases"] or 0)
    if errored:
        names = ", ".join(errored[:10]) + (" …" if len(errored) > 10 else "")
        reason = f"gate cannot be judged: {len(errored)} case(s) could not be computed ({names}); fix them first"
        return GateResult(spec_name, "error", reason, measurements, (), {}, counted)
    checks = _checks(overall, gate, "gate")
    per_class: dict[str, dict[str, float | None]] = {}
    if gate.per_class:
        groups: dict[str, list[GateCase]] = {}
        for case in cases:
            target = case.result.target if case.result is not None else None
            label = (target.label or str(target.index)) if target is not None else "unknown"
            groups.setdefault(label, []).append(case)
        for label, group in sorted(groups.items()):
            per_class[label] = _numbers(group)
            checks.extend(_checks(per_class[label], gate, f"class {label!r}"))
    decided = tuple(checks)
    status = "passed" if all_passed(decided) else "failed"
    return GateResult(spec_name, status, "; ".join(reasons(decided)), measurements, decided, per_class, counted)
