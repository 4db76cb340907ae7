"""The plan of an audit: every case (with each method) and gate of a set of spec files, each with its entry
before it runs (not run, or an error the loader already decided); and the thresholds ``--gradcam-override`` replaces."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gradcam_audit.core.evaluate.metrics import OVERRIDABLE_KEYS as REGION_OVERRIDABLE_KEYS
from gradcam_audit.core.ledger.entries import NOT_RUN_CAUSES, CaseEntry, GateEntry
from gradcam_audit.core.jobs import CaseJob
from gradcam_audit.core.spec.load import discover_spec_files, display_path, parse_spec
from gradcam_audit.core.spec.model import Case, ParsedSpec, Region, Spec
from gradcam_audit.errors import GradcamAuditError, Problem

# Case-level thresholds an override may replace too (the faithfulness areas); region ones come from core/evaluate/metrics.py.
CASE_OVERRIDABLE_KEYS: tuple[str, ...] = ("max_deletion_auc", "min_insertion_auc", "max_outside_effect")
OVERRIDABLE_KEYS: tuple[str, ...] = (*REGION_OVERRIDABLE_KEYS, *CASE_OVERRIDABLE_KEYS)

CaseKey = tuple[str, str, str]  # (spec as displayed, case id, method)

SPEC_PROBLEM_ID = "spec"  # the entry of a spec file that could not be read at all


class OverrideError(GradcamAuditError, ValueError):
    """A `--gradcam-override` that names no threshold or gives no finite number."""


def describe_problems(problems: tuple[Problem, ...]) -> str:
    count = len(problems)
    return f"{count} problem{'s' if count != 1 else ''} in the spec:\n" + "\n".join(problem.format() for problem in problems)


def parse_overrides(items: Iterable[str]) -> dict[str, float]:
    """``["min_lift=1.0", ...]`` → {"min_lift": 1.0}; refuses unknown keys and non-finite values where given."""
    overrides: dict[str, float] = {}
    for item in items:
        key, _, value = str(item).partition("=")
        if key not in OVERRIDABLE_KEYS or not value:
            raise OverrideError(f"--gradcam-override {item!r}: expected KEY=VALUE with KEY one of {', '.join(OVERRIDABLE_KEYS)}, "
                                "e.g. min_lift=1.0")
        try:
            number = float(value)
        except ValueError:
            raise OverrideError(f"--gradcam-override {item!r}: {value!r} is not a number") from None
        if not math.isfinite(number) or number < 0:
            raise OverrideError(f"--gradcam-override {item!r}: the value must be a finite number ≥ 0 (got {value!r})")
        overrides[key] = number
    return overrides


def apply_overrides(spec: Spec, overrides: Mapping[str, float]) -> Spec:
    """The spec with each overridden threshold replaced wherever a region sets it."""
    if not overrides:
        return spec

    def region(original: Region) -> Region:
        changes: dict[str, Any] = {key: value for key, value in overrides.items()
                                   if key in REGION_OVERRIDABLE_KEYS and getattr(original, key) is not None}
        return replace(original, **changes)

    def case(original: Case) -> Case:
        changes: dict[str, Any] = {key: value for key, value in overrides.items()
                                   if key in CASE_OVERRIDABLE_KEYS and getattr(original, key) is not None}
        return replace(original, regions=tuple(region(item) for item in original.regions), **changes)

    return replace(spec, cases=tuple(case(item) for item in spec.cases))


@dataclass(frozen=True)
class PlannedCase:
    """One case with one method as planned; ``job`` is None when the loader already decided it is an error."""

    spec_path: Path
    name: str  # the pytest item's name: the case id, or "id[method]" when the spec has several methods
    entry: CaseEntry  # the entry before it runs: not_run, or a decided error
    job: CaseJob | None

    @property
    def key(self) -> CaseKey:
        return self.entry.key


@dataclass(frozen=True)
class PlannedGate:
    spec_path: Path
    entry: GateEntry
    case_keys: tuple[CaseKey, ...]
    decided: bool  # the loader already decided it (an error); it never runs
    name: str = "gate"
    spec: Spec | None = None  # for gates whose causal numbers (transplants, randomisation) the runner measures


@dataclass(frozen=True)
class SpecPlan:
    path: Path
    parsed: ParsedSpec
    cases: tuple[PlannedCase, ...]
    gate: PlannedGate | None


@dataclass(frozen=True)
class AuditPlan:
    specs: tuple[SpecPlan, ...]

    def for_path(self, path: Path) -> SpecPlan | None:
        resolved = path.resolve()
        return next((spec_plan for spec_plan in self.specs if spec_plan.path == resolved), None)

    @property
    def cases(self) -> tuple[PlannedCase, ...]:
        return tuple(case for spec_plan in self.specs for case in spec_plan.cases)

    @property
    def gates(self) -> tuple[PlannedGate, ...]:
        return tuple(spec_plan.gate for spec_plan in self.specs if spec_plan.gate is not None)


def plan_spec(path: Path, *, method: str | None = None, overrides: Mapping[str, float] | None = None,
              resize_filter: str | None = None) -> SpecPlan:
    """Every entry of one spec file. A file that cannot be read is one error entry; a file whose model or other
    file-level part is wrong keeps every case id and its gate, each an error naming the problems.

    ``resize_filter`` is the run's default filter, for specs that do not name one (a spec knows its model best)."""
    parsed = parse_spec(path)
    shown = display_path(parsed.path)
    spec = parsed.spec
    if spec is None:
        entry = CaseEntry(spec=shown, id=SPEC_PROBLEM_ID, method="-", status="error", reason=describe_problems(parsed.problems),
                          line=next((problem.line for problem in parsed.problems if problem.line), None))
        return SpecPlan(parsed.path, parsed, (PlannedCase(parsed.path, SPEC_PROBLEM_ID, entry, None),), None)
    spec = apply_overrides(spec, overrides or {})
    if spec.resize_filter is None and resize_filter is not None:
        spec = replace(spec, resize_filter=resize_filter)
    methods = (method,) if method else spec.methods
    file_problem = describe_problems(parsed.problems) if parsed.problems else None
    invalid_by_index = {case.index: case for case in spec.invalid_cases}
    valid = iter(spec.cases)
    planned: list[PlannedCase] = []
    for index in range(len(spec.cases) + len(spec.invalid_cases)):
        if index in invalid_by_index:
            invalid = invalid_by_index[index]
            entry = CaseEntry(spec=shown, id=invalid.id, method="-", status="error", reason=describe_problems(invalid.problems),
                              line=invalid.line)
            planned.append(PlannedCase(parsed.path, invalid.id, entry, None))
            continue
        case = next(valid)
        for case_method in methods:
            name = case.id if len(methods) == 1 else f"{case.id}[{case_method}]"
            base = CaseEntry(spec=shown, id=case.id, method=case_method, status="not_run", xfail=case.xfail, tags=case.tags,
                             line=case.line, cause="no_result", reason=NOT_RUN_CAUSES["no_result"])
            if file_problem is not None:
                planned.append(PlannedCase(parsed.path, name, replace(base, status="error", cause="", reason=file_problem), None))
            else:
                planned.append(PlannedCase(parsed.path, name, base, CaseJob(spec, case, case_method)))
    if not planned:
        # A spec that plans no case (`cases: []`, a mapping, every entry dropped) is one error entry, never an absence:
        # otherwise a broken spec beside a good one would vanish from the run and the run would pass.
        reason = file_problem or (f"{shown}: cases: the spec plans no case; fix: add `cases:` with at least one "
                                  "`- id: ..., image: ..., regions: [...]`")
        line = next((problem.line for problem in parsed.problems if problem.line), None)
        planned.append(PlannedCase(parsed.path, SPEC_PROBLEM_ID, CaseEntry(spec=shown, id=SPEC_PROBLEM_ID, method="-", status="error",
                                                                          reason=reason, line=line), None))
    gate_plan: PlannedGate | None = None
    if spec.gate is not None:
        gate = spec.gate
        thresholds: dict[str, Any] = {"min_pass_rate": gate.min_pass_rate, "min_mean_mass": gate.min_mean_mass,
                                      "min_mean_lift": gate.min_mean_lift, "per_class": gate.per_class}
        if gate.transplant is not None:
            thresholds.update(transplant=gate.transplant, max_transplant_flip_rate=gate.max_transplant_flip_rate,
                              transplant_pairs=gate.transplant_pairs)
        if gate.max_randomization_similarity is not None:
            thresholds["max_randomization_similarity"] = gate.max_randomization_similarity
        if gate.max_outside_dependence_rate is not None:
            thresholds["max_outside_dependence_rate"] = gate.max_outside_dependence_rate
        gate_entry = GateEntry(spec=shown, status="not_run", cause="no_result", reason=NOT_RUN_CAUSES["no_result"], xfail=spec.xfail,
                               line=gate.line, thresholds=thresholds, methods=methods,
                               invalid_cases=len(spec.invalid_cases) * len(methods))
        case_keys = tuple(case.key for case in planned if case.entry.method != "-")
        if file_problem is not None:
            gate_entry = replace(gate_entry, status="error", cause="", reason=f"the gate cannot be judged: {file_problem}")
        gate_plan = PlannedGate(parsed.path, gate_entry, case_keys, decided=file_problem is not None, spec=spec)
    return SpecPlan(parsed.path, parsed, tuple(planned), gate_plan)


def plan_audit(paths: Iterable[Path | str], *, method: str | None = None, overrides: Mapping[str, float] | None = None,
               resize_filter: str | None = None) -> AuditPlan:
    """Every case and gate of every spec file under ``paths`` (files or folders), in order. Never imports TensorFlow."""
    return AuditPlan(tuple(plan_spec(path, method=method, overrides=overrides, resize_filter=resize_filter)
                           for path in discover_spec_files(paths)))
