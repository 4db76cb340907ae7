"""The final status of a computed case or gate (expected failures included), and a gate judged from its cases."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from gradcam_audit.core.evaluate.causal import GateEvidence
from gradcam_audit.core.evaluate.gates import GateCase, evaluate_gate
from gradcam_audit.core.ledger.entries import CaseEntry, GateEntry


def final_case_status(verdict: str, xfail: str | None) -> tuple[str, str]:
    """The final status of a computed case, and the extra words for it. Errors are never expected failures."""
    if verdict == "error" or not xfail:
        return verdict, ""
    if verdict == "failed":
        return "xfailed", ""
    return "xpassed", f"expected to fail ({xfail}) but passed: the strict expected failure no longer holds"


def final_gate_status(verdict: str, xfail: str | None) -> tuple[str, str]:
    return final_case_status(verdict, xfail)


def judge_gate(entry: GateEntry, cases: Iterable[CaseEntry], evidence: GateEvidence | None = None) -> GateEntry:
    """The gate decided from its cases' final statuses, or not run when some of them did not run.

    ``evidence``: the causal numbers the runner measured, for a gate with transplant / randomisation thresholds.
    """
    chosen = [case for case in cases if case.spec == entry.spec and (not entry.methods or case.method in entry.methods)]
    missing = [case for case in chosen if case.status == "not_run"]
    if missing:
        names = ", ".join(case.id for case in missing[:5]) + (" …" if len(missing) > 5 else "")
        return replace(entry, status="not_run", cause="cases_not_run",
                       reason=f"not judged: {len(missing)} of its {len(chosen)} case(s) did not run here ({names})")
    result = evaluate_gate(entry.spec, entry.gate(), [GateCase(case.status, case.result, case.id) for case in chosen], entry.invalid_cases,
                           evidence)
    status, extra = final_gate_status(result.status, entry.xfail)
    reason = extra or result.reason or ("" if status == "passed" else result.reason)
    return replace(entry, status=status, cause="", reason=reason, result=result)
