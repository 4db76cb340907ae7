"""Per class of a suite: the required regions' attention numbers, the pass rate and the class's status, decided here.

The report's per-class chart draws these records only; it never counts passes or compares a rate with a limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradcam_audit.core.evaluate.gates import class_key
from gradcam_audit.core.ledger.entries import BLOCKING_STATUSES, SELECTION_CAUSES, CaseEntry, GateEntry
from gradcam_audit.core.ledger.run_results import RunResults

CLASS_STATUSES = ("passed", "failed", "incomplete")


@dataclass(frozen=True)
class ClassSummary:
    """One class of one suite.

    Attributes:
        label: the class as the gate names it (its label, else its index; "unknown" where no case computed it).
        masses / lifts: the required regions' attention share (0–1) and lift, one value per region of each case.
        passed / counted: cases that passed outright (an unexpected pass is not one), over the cases counted (as a
            gate counts them: every case the run meant to run except skipped ones).
        status: "failed" when a case of the class blocks the release (failed, error, unexpected pass) or the
            suite's per-class gate failed this class; "incomplete" when a case did not run; else "passed".
        reason: why it is not "passed" ("" when it is).
    """

    label: str
    masses: tuple[float, ...]
    lifts: tuple[float, ...]
    passed: int
    counted: int
    status: str
    reason: str = ""

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.counted if self.counted else None


def _gate_of(results: RunResults, suite: str) -> GateEntry | None:
    return next((gate for gate in results.gates if gate.spec == suite), None)


def _summary(label: str, cases: list[CaseEntry], gate: GateEntry | None) -> ClassSummary:
    counted = [case for case in cases if case.status != "skipped"]
    required = [region for case in counted for region in case.regions if region.role == "required"]
    blocking = [case for case in counted if case.status in BLOCKING_STATUSES]
    unfinished = [case for case in counted if case.status == "not_run"]
    failed_checks = [check for check in (gate.result.checks if gate is not None and gate.result is not None else ())
                     if check.subject == f"class {label!r}" and not check.passed]
    if blocking:
        words = ", ".join(f"{case.id} {case.status}" for case in blocking[:5]) + (" …" if len(blocking) > 5 else "")
        status, reason = "failed", f"{len(blocking)} of {len(counted)} case(s) block the release ({words})"
    elif failed_checks:
        status, reason = "failed", "the gate failed for this class: " + "; ".join(check.reason for check in failed_checks)
    elif unfinished:
        status, reason = "incomplete", f"{len(unfinished)} of {len(counted)} case(s) did not run"
    else:
        status, reason = "passed", ""
    return ClassSummary(label, tuple(region.mass for region in required), tuple(region.lift for region in required),
                        sum(1 for case in counted if case.status == "passed"), len(counted), status, reason)


def class_summaries(results: RunResults, suite: str) -> tuple[ClassSummary, ...]:
    """Every class of ``suite`` (a spec as displayed), weakest first: failed before incomplete before passed, then
    by pass rate and label. Cases the user's selection left out are not counted."""
    groups: dict[str, list[CaseEntry]] = {}
    for case in results.cases:
        if case.spec != suite or case.method == "-" or (case.status == "not_run" and case.cause in SELECTION_CAUSES):
            continue
        groups.setdefault(class_key(case.target), []).append(case)
    gate = _gate_of(results, suite)
    summaries = [_summary(label, cases, gate) for label, cases in groups.items()]
    order = {status: position for position, status in enumerate(("failed", "incomplete", "passed"))}
    return tuple(sorted(summaries, key=lambda item: (order[item.status], item.pass_rate if item.pass_rate is not None else -1.0,
                                                     item.label)))
