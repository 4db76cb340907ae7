"""Suite-level gates: pass rate and mean mass / lift over a spec's cases, overall or per class, as checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from gradcam_audit.core.evaluate.causal import CascadeStage, GateEvidence, TransplantPair
from gradcam_audit.core.records.checks import Check, all_passed, decide, reasons
from gradcam_audit.core.records.codec import JsonForm
from gradcam_audit.core.records.results import CaseResult, ClassInfo
from gradcam_audit.core.evaluate.outside_findings import Finding, dependence_check
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
    transplant: tuple[TransplantPair, ...] = ()  # every transplant pair tried (gate `transplant`)
    randomization: dict[str, float] = field(default_factory=dict)  # case id → heatmap similarity to the randomised model's
    cascade: tuple[CascadeStage, ...] = ()  # the cascading randomisation, top layer down (informational)
    cascade_case: str = ""
    findings: tuple[Finding, ...] = ()  # beyond the boxes: failing cases' hotspots grouped by position (max_outside_dependence_rate)

    @property
    def flipped_pairs(self) -> tuple[TransplantPair, ...]:
        return tuple(pair for pair in self.transplant if pair.flipped)

    # The causal evidence is written only where the gate measured it; findings wherever the dependence rate was
    # measured, even none (an empty list says "looked, found nothing").
    JSON_FORM: ClassVar[JsonForm] = JsonForm(
        renamed={"transplant": "transplants", "randomization": "randomization_per_case"},
        omitted={"transplants": lambda gate: not gate.transplant, "randomization_per_case": lambda gate: not gate.randomization,
                 "cascade": lambda gate: not gate.cascade, "cascade_case": lambda gate: not gate.cascade,
                 "findings": lambda gate: "outside_dependence_rate" not in gate.measurements})


@dataclass(frozen=True)
class GateCase:
    """What a gate needs of one case: its final status and, where it was computed, its result."""

    status: str
    result: CaseResult | None
    id: str = ""


def class_key(target: ClassInfo | None) -> str:
    """The class a case counts for, per class: its label, else its index; "unknown" where no case computed it."""
    return (target.label or str(target.index)) if target is not None else "unknown"


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


def _evidence_checks(gate: Gate, evidence: GateEvidence) -> list[Check]:
    checks: list[Check] = []
    if gate.max_transplant_flip_rate is not None:
        value = evidence.transplant_flip_rate
        flipped = sum(pair.flipped for pair in evidence.transplant)
        checks.append(decide("gate", "transplant_flip_rate", value, "<=", float(gate.max_transplant_flip_rate),
                             threshold_key="max_transplant_flip_rate",
                             reason=None if value is None else (f"transplant_flip_rate {value:.3f} > max_transplant_flip_rate "
                                                                f"{gate.max_transplant_flip_rate:g} ({flipped} of {len(evidence.transplant)} "
                                                                f"pairs changed to the donor's class when {gate.transplant!r} was pasted in)")))
    if gate.max_randomization_similarity is not None:
        value = evidence.randomization_similarity
        checks.append(decide("gate", "randomization_similarity", value, "<=", float(gate.max_randomization_similarity),
                             threshold_key="max_randomization_similarity",
                             reason=None if value is None else (f"randomization_similarity {value:.3f} > max_randomization_similarity "
                                                                f"{gate.max_randomization_similarity:g} (the heatmaps barely change when "
                                                                "every weight is re-initialised: they do not explain this model)")))
    return checks


def evaluate_gate(spec_name: str, gate: Gate, cases: Sequence[GateCase], invalid_cases: int = 0,
                  evidence: GateEvidence | None = None) -> GateResult:
    """The gate's verdict over its cases' final statuses; invalid cases count as not passed.

    A case that errored makes the gate an error: its numbers would be computed over a different set of cases.
    ``evidence`` holds the causal numbers (transplants, weight randomisation) the runner measured for a gate that
    sets max_transplant_flip_rate / max_randomization_similarity; without it such a gate is an error, never a pass.
    """
    overall = _numbers(cases, invalid_cases)
    errored = [case.id for case in cases if case.status == "error"]
    measurements = {key: overall[key] for key, _ in GATE_METRICS}
    counted = int(overall["cases"] or 0)
    if errored:
        names = ", ".join(errored[:10]) + (" …" if len(errored) > 10 else "")
        reason = f"gate cannot be judged: {len(errored)} case(s) could not be computed ({names}); fix them first"
        return GateResult(spec_name, "error", reason, measurements, (), {}, counted)
    evidence_checks: list[Check] = []
    if gate.needs_evidence:
        if evidence is None:
            reason = ("gate cannot be judged: its transplant / weight-randomisation thresholds need the model and the images, and "
                      "they were not computed here (a gate judged from merged shards cannot measure them); run the spec's cases "
                      "and gate in one process")
            return GateResult(spec_name, "error", reason, measurements, (), {}, counted)
        if evidence.error is not None:
            return GateResult(spec_name, "error", f"gate cannot be judged: {evidence.error}", measurements, (), {}, counted)
        if gate.max_transplant_flip_rate is not None:
            measurements["transplant_flip_rate"] = evidence.transplant_flip_rate
            measurements["transplant_pairs"] = float(len(evidence.transplant))
        if gate.max_randomization_similarity is not None:
            measurements["randomization_similarity"] = evidence.randomization_similarity
        evidence_checks = _evidence_checks(gate, evidence)
    findings: tuple[Finding, ...] = ()
    if gate.max_outside_dependence_rate is not None:  # from the case results alone, so merged shards re-judge it
        measured = [case.result for case in cases if case.status != "skipped" and case.result is not None]
        outside, measurements["outside_dependence_rate"], findings, _count = dependence_check(measured, gate.max_outside_dependence_rate)
        evidence_checks.append(outside)
    checks = _checks(overall, gate, "gate") + evidence_checks
    per_class: dict[str, dict[str, float | None]] = {}
    if gate.per_class:
        groups: dict[str, list[GateCase]] = {}
        for case in cases:
            groups.setdefault(class_key(case.result.target if case.result is not None else None), []).append(case)
        for label, group in sorted(groups.items()):
            per_class[label] = _numbers(group)
            checks.extend(_checks(per_class[label], gate, f"class {label!r}"))
    decided = tuple(checks)
    status = "passed" if all_passed(decided) else "failed"
    transplanted = evidence.transplant if evidence is not None else ()
    randomization = dict(evidence.randomization_per_case) if evidence is not None else {}
    cascade = evidence.cascade if evidence is not None else ()
    return GateResult(spec_name, status, "; ".join(reasons(decided)), measurements, decided, per_class, counted, transplanted, randomization,
                      cascade, evidence.cascade_case if evidence is not None else "", findings)
