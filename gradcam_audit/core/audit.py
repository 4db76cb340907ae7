"""The audit: plan every case and gate of a set of specs, run them through the batching runner, keep the ledger.

`run_audit` is the whole audit in one call (notebooks, other runners); the pytest plugin drives the same
`Audit` one item at a time and only maps its entries to pytest outcomes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from gradcam_audit.core.baseline.compare import compare_with_baseline, summarize, with_unfinished_compared
from gradcam_audit.core.baseline.files import Baseline
from gradcam_audit.core.baseline.rules import case_rules, resolve_rules
from gradcam_audit.core.records.comparison import CaseRules
from gradcam_audit.core.evaluate.causal import GateEvidence
from gradcam_audit.core.ledger.entries import NOT_RUN_CAUSES, CaseEntry, GateEntry
from gradcam_audit.core.ledger.judging import final_case_status, judge_gate
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.evaluate.metrics import OVERRIDABLE_KEYS as REGION_OVERRIDABLE_KEYS
from gradcam_audit.core.run.runner import AuditRunner, CaseJob
from gradcam_audit.core.spec.load import discover_spec_files, display_path, parse_spec
from gradcam_audit.core.spec.model import Case, ParsedSpec, Region, Spec

# Case-level thresholds an override may replace too (the faithfulness areas); region ones come from core/evaluate/metrics.py.
CASE_OVERRIDABLE_KEYS: tuple[str, ...] = ("max_deletion_auc", "min_insertion_auc", "max_outside_effect")
OVERRIDABLE_KEYS: tuple[str, ...] = (*REGION_OVERRIDABLE_KEYS, *CASE_OVERRIDABLE_KEYS)
from gradcam_audit.errors import GradcamAuditError, Problem

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


def _not_run(reason: str = NOT_RUN_CAUSES["no_result"]) -> dict[str, str]:
    return {"status": "not_run", "cause": "no_result", "reason": reason}


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


@dataclass(frozen=True)
class CaseRun:
    """A case's final entry, with the arrays a caller may draw (None when nothing was computed)."""

    entry: CaseEntry
    image: np.ndarray | None = None
    heatmap: np.ndarray | None = None
    removed: Mapping[str, np.ndarray] = field(default_factory=dict)  # region name → the image without it (causal checks)


class Audit:
    """Runs a plan's entries on demand and keeps the ledger: each planned entry ends with one final status.

    One instance per process. Entries computed elsewhere (an xdist worker, a Ray actor) are `record`ed.
    """

    def __init__(self, plan: AuditPlan, runner: AuditRunner | None = None, *, baseline: Baseline | None = None,
                 baseline_rules: Mapping[str, Any] | None = None) -> None:
        self.plan = plan
        self.runner = runner or AuditRunner()
        # The released model's audit to compare each case with (core/baseline/), and the ini's regression rules.
        self.baseline = baseline
        self.baseline_rules = dict(baseline_rules or {})
        self._planned_cases: dict[CaseKey, PlannedCase] = {case.key: case for case in plan.cases}
        self._planned_gates: dict[str, PlannedGate] = {gate.entry.key: gate for gate in plan.gates}
        self._cases: dict[CaseKey, CaseEntry] = {}
        self._gates: dict[str, GateEntry] = {}
        self._selected: set[CaseKey] = set(self._planned_cases)

    # -- selection ----------------------------------------------------------------------------------

    def select(self, case_keys: Iterable[CaseKey], gate_keys: Iterable[str], *, rest: str = "deselected",
               isolated: Iterable[Path] = ()) -> None:
        """Run only these entries in this session; the others end as not run with cause ``rest``.

        The runner is told the selected jobs in plan order, so consecutive cases share forward passes.
        """
        chosen = set(case_keys)
        chosen_gates = set(gate_keys)
        self._selected = chosen
        for key, planned in self._planned_cases.items():
            if key not in chosen and planned.job is not None and key not in self._cases:
                self._cases[key] = replace(planned.entry, status="not_run", cause=rest, reason=NOT_RUN_CAUSES[rest])
        for gate_key, planned_gate in self._planned_gates.items():
            if gate_key not in chosen_gates and not planned_gate.decided and gate_key not in self._gates:
                self._gates[gate_key] = replace(planned_gate.entry, status="not_run", cause=rest, reason=NOT_RUN_CAUSES[rest])
        jobs = [planned.job for planned in self.plan.cases if planned.key in chosen and planned.job is not None]
        self.runner.plan(jobs, groups=[job.spec.path for job in jobs])
        self.runner.isolate([path.resolve() for path in isolated])

    # -- running ------------------------------------------------------------------------------------

    def planned_case(self, key: CaseKey) -> PlannedCase:
        return self._planned_cases[key]

    def run_case(self, key: CaseKey) -> CaseRun:
        """The case's final entry, computing its batch if needed. Asking twice returns the same entry."""
        if key in self._cases:
            return CaseRun(self._cases[key])
        planned = self._planned_cases[key]
        if planned.job is None:
            self._cases[key] = planned.entry
            return CaseRun(planned.entry)
        outcome = self.runner.run(planned.job)
        rules = case_rules(planned.job.case, self.baseline_rules)
        result = replace(outcome.result, baseline_rules=rules)
        if self.baseline is not None:  # regressions are checks of the case: they fail it like a missed threshold
            result = compare_with_baseline(result, self.baseline, rules)
        status, extra = final_case_status(result.verdict, planned.entry.xfail)
        entry = replace(planned.entry, status=status, cause="", reason=extra or result.reason, result=result,
                        duration_s=outcome.duration_s)
        self._cases[key] = entry
        return CaseRun(entry, outcome.image, outcome.heatmap, outcome.removed)

    def run_gate(self, key: str) -> GateEntry:
        """The gate judged from its cases' final statuses; cases selected here but not yet run are run first."""
        if key in self._gates:
            return self._gates[key]
        planned = self._planned_gates[key]
        if planned.decided:
            self._gates[key] = planned.entry
            return planned.entry
        cases = [self.run_case(case_key).entry if case_key in self._selected or case_key in self._cases
                 else self._planned_cases[case_key].entry for case_key in planned.case_keys]
        judged = judge_gate(planned.entry, cases, self._gate_evidence(planned, cases))
        if judged.status == "not_run":
            causes = {case.cause for case in cases if case.status == "not_run"}
            # A gate whose cases are in other shards is judged when the shards' results are merged.
            judged = replace(judged, cause=causes.pop() if len(causes) == 1 and causes <= {"other_shard", "deselected"} else "cases_not_run")
        self._gates[key] = judged
        return judged

    def _case_rules(self, key: CaseKey) -> CaseRules:
        """The regression rules of a planned case (its spec's, over the ini's); the ini's alone where it has no case."""
        planned = self._planned_cases.get(key)
        if planned is not None and planned.job is not None:
            return case_rules(planned.job.case, self.baseline_rules)
        return resolve_rules(self.baseline_rules, (), ())

    def _gate_evidence(self, planned: PlannedGate, cases: list[CaseEntry]) -> GateEvidence | None:
        """The gate's causal numbers, measured through the runner when the gate needs them and its cases all ran here."""
        spec = planned.spec
        if spec is None or spec.gate is None or not spec.gate.needs_evidence:
            return None
        if any(case.status in ("not_run", "error") for case in cases):
            return None  # the gate is not judged, or is an error, whatever the evidence says
        method = planned.entry.methods[0] if planned.entry.methods else spec.methods[0]
        return self.runner.gate_evidence(spec, spec.gate, method)

    # -- facts from elsewhere ------------------------------------------------------------------------

    def record_case(self, entry: CaseEntry) -> None:
        """An entry decided in another process (or a later fact about one decided here: its pictures, node id)."""
        self._cases[entry.key] = entry

    def record_gate(self, entry: GateEntry) -> None:
        self._gates[entry.key] = entry

    def record_skipped(self, key: CaseKey, reason: str) -> CaseEntry:
        """pytest skipped the case (a skip marker from the user's conftest): it ends as skipped, with pytest's reason."""
        entry = replace(self._planned_cases[key].entry, status="skipped", cause="", reason=reason or "skipped by pytest")
        self._cases[key] = entry
        return entry

    def record_crash(self, key: CaseKey, reason: str) -> CaseEntry:
        """The process computing the case died: the case is an error naming the crash."""
        entry = replace(self._planned_cases[key].entry, status="error", cause="", reason=reason)
        self._cases[key] = entry
        return entry

    def finished_cases(self) -> int:
        """Cases of this run that ended (not counting those the selection left out)."""
        return sum(1 for entry in self._cases.values() if entry.status != "not_run")

    def selected_cases(self) -> int:
        return len(self._selected)

    def has_case(self, key: CaseKey) -> bool:
        return key in self._planned_cases

    def has_gate(self, key: str) -> bool:
        return key in self._planned_gates

    def case_entry(self, key: CaseKey) -> CaseEntry | None:
        return self._cases.get(key)

    # -- the ledger ---------------------------------------------------------------------------------

    def ledger(self, *, unfinished_cause: str = "no_result", started: float | None = None, command: str = "",
               versions: Mapping[str, str] | None = None, notes: Iterable[str] = ()) -> RunResults:
        """Every planned entry with its final status; those still open end as not run with ``unfinished_cause``."""
        reason = NOT_RUN_CAUSES.get(unfinished_cause, unfinished_cause)
        cases: list[CaseEntry] = []
        for key, planned in self._planned_cases.items():
            open_entry = replace(planned.entry, status="not_run", cause=unfinished_cause, reason=reason) if planned.job is not None else planned.entry
            cases.append(self._cases.get(key, open_entry))
        cases.extend(entry for key, entry in self._cases.items() if key not in self._planned_cases)
        if self.baseline is not None:  # a baseline pass that errored before computing or did not run now is a regression
            cases = [with_unfinished_compared(entry, self.baseline, self._case_rules(entry.key)) for entry in cases]
        gates: list[GateEntry] = []
        for gate_key, planned_gate in self._planned_gates.items():
            open_gate = planned_gate.entry if planned_gate.decided else replace(planned_gate.entry, status="not_run", cause=unfinished_cause,
                                                                                 reason=reason)
            gates.append(self._gates.get(gate_key, open_gate))
        gates.extend(entry for gate_key, entry in self._gates.items() if gate_key not in self._planned_gates)
        begun = started if started is not None else time.time()
        return RunResults(
            cases=tuple(cases),
            gates=tuple(gates),
            started=datetime.fromtimestamp(begun, timezone.utc).isoformat(timespec="seconds"),
            duration_s=round(max(time.time() - begun, 0.0), 3),
            command=command,
            versions=dict(versions or {}),
            notes=tuple(notes),
            baseline=summarize(self.baseline, cases) if self.baseline is not None else None,
        )


def run_audit(
    paths: Iterable[Path | str],
    *,
    batch_size: int = 32,
    method: str | None = None,
    overrides: Mapping[str, float] | None = None,
    resize_filter: str | None = None,
    on_case: Callable[[CaseRun], Mapping[str, str] | None] | None = None,
    baseline: Baseline | None = None,
    baseline_rules: Mapping[str, Any] | None = None,
) -> RunResults:
    """The whole audit of the spec files under ``paths``: every planned case and gate, each with one final status.

    ``on_case`` is called with each computed case (e.g. to draw its pictures) and may return picture paths to
    keep beside its result. ``baseline`` (`core.baseline.load_baseline`) compares each case with the released
    model's audit, under ``baseline_rules`` (e.g. ``{"max_mass_rise": 0.05}``). Ctrl-C stops the run and returns
    the ledger of what finished, the rest "interrupted".
    """
    started = time.time()
    audit = Audit(plan_audit(paths, method=method, overrides=overrides, resize_filter=resize_filter), AuditRunner(batch_size), baseline=baseline,
                  baseline_rules=baseline_rules)
    audit.select([case.key for case in audit.plan.cases], [gate.entry.key for gate in audit.plan.gates])
    cause = "no_result"
    try:
        for spec_plan in audit.plan.specs:
            for planned in spec_plan.cases:
                run = audit.run_case(planned.key)
                images = on_case(run) if on_case is not None else None
                if images:
                    audit.record_case(replace(run.entry, images=dict(images)))
            if spec_plan.gate is not None:
                audit.run_gate(spec_plan.gate.entry.key)
    except KeyboardInterrupt:
        cause = "interrupted"
    return audit.ledger(unfinished_cause=cause, started=started, command="run_audit")
