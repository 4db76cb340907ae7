"""The audit: run a plan's cases and gates through the batching runner and keep the ledger.

`run_audit` is the whole audit in one call (notebooks, other runners); the pytest plugin drives the same
`Audit` one item at a time and only maps its entries to pytest outcomes. The plan itself is core/plan.py.
"""

from __future__ import annotations

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
from gradcam_audit.core.evaluate.causal import GateEvidence
from gradcam_audit.core.ledger.entries import NOT_RUN_CAUSES, CaseEntry, GateEntry
from gradcam_audit.core.ledger.judging import final_case_status, judge_gate
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.plan import AuditPlan, CaseKey, PlannedCase, PlannedGate, plan_audit
from gradcam_audit.core.records.comparison import CaseRules
from gradcam_audit.core.run.kept_warnings import KeptWarning
from gradcam_audit.core.run.failures import crash_reason
from gradcam_audit.core.run.runner import AuditRunner


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

    def record_crash(self, key: CaseKey, detail: str) -> CaseEntry:
        """The process computing the case died, also on its retry: the case is an error naming the crash. Recorded by
        the process that saw the crash and by every process that might otherwise compute the case again (a gate)."""
        entry = replace(self._planned_cases[key].entry, status="error", cause="", reason=crash_reason("computing this case", detail))
        self._cases[key] = entry
        return entry

    def record_gate_crash(self, key: str, detail: str) -> GateEntry:
        """The process judging the gate died, also on its retry: the gate is an error naming the crash."""
        entry = replace(self._planned_gates[key].entry, status="error", cause="", reason=crash_reason("judging this gate", detail))
        self._gates[key] = entry
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
               versions: Mapping[str, str] | None = None, notes: Iterable[str] = (),
               warnings: Iterable[KeptWarning] = ()) -> RunResults:
        """Every planned entry with its final status; those still open end as not run with ``unfinished_cause``.

        The notes end with one line per distinct third-party warning: those this process's runner kept and
        ``warnings`` (kept by other processes, e.g. xdist workers), each once.
        """
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
            notes=tuple(dict.fromkeys((*notes, *(kept.note() for kept in (*self.runner.batches.warnings.kept(), *warnings))))),
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
