"""Each suite's one status and what its failing cases missed: the facts a report headline states, decided here once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from gradcam_audit.core.ledger.entries import CaseEntry, GateEntry

from gradcam_audit.core.ledger.run_results import RunResults

# A suite takes the first of these statuses that any of its entries (cases and gate) has: what blocks the release
# first (a failure before an error: it says what the model did), then what did not finish, then known problems, then passes.
SUITE_STATUS_ORDER = ("failed", "error", "xpassed", "not_run", "xfailed", "passed", "skipped")


@dataclass(frozen=True)
class RegionMiss:
    """A region whose checks failed in some of a suite's cases (failed or expected to fail)."""

    name: str
    role: str  # "required" | "forbidden" | "check"
    cases: int  # how many of the suite's failing cases missed a check on it


@dataclass(frozen=True)
class SuiteOutcome:
    """One suite (one spec file) in a sentence's worth of facts.

    ``status``: the suite's status (SUITE_STATUS_ORDER); ``failing_cases``: its cases that failed or failed as expected;
    ``missed_regions``: the regions those cases missed, most often first; ``wrong_predictions``: those cases whose
    predicted class check failed; ``gate_misses``: the gate's failed checks (metric names); ``known_problem``: the spec's
    expected-failure reason, when the suite has one.
    """

    spec: str
    status: str
    cases: int
    failing_cases: int
    missed_regions: tuple[RegionMiss, ...]
    wrong_predictions: int
    gate_status: str  # "" when the suite has no gate
    gate_misses: tuple[str, ...]
    known_problem: str
    errors: int = 0  # its cases that could not be checked


def _failing(case: CaseEntry) -> bool:
    return case.status in ("failed", "xfailed") and case.result is not None


def _outcome(spec: str, cases: list[CaseEntry], gate: GateEntry | None) -> SuiteOutcome:
    statuses = {case.status for case in cases} | ({gate.status} if gate is not None else set())
    status = next((candidate for candidate in SUITE_STATUS_ORDER if candidate in statuses), "not_run")
    failing = [case for case in cases if _failing(case)]
    misses: Counter[tuple[str, str]] = Counter()
    order: dict[tuple[str, str], int] = {}
    wrong = 0
    for result in (case.result for case in failing if case.result is not None):
        for region in result.regions:
            if not region.passed:
                key = (region.name, region.role)
                order.setdefault(key, len(order))
                misses[key] += 1
        wrong += any(check.metric == "predicted_class" and not check.passed for check in result.checks)
    ranked = sorted(misses, key=lambda key: (-misses[key], order[key]))
    gate_misses = tuple(check.metric for check in gate.result.checks if not check.passed) if gate is not None and gate.result else ()
    known = next((case.xfail for case in cases if case.xfail), None) or (gate.xfail if gate is not None else None) or ""
    return SuiteOutcome(spec, status, len(cases), len(failing), tuple(RegionMiss(name, role, misses[(name, role)]) for name, role in ranked),
                        wrong, gate.status if gate is not None else "", gate_misses, known, sum(1 for case in cases if case.status == "error"))


def suite_outcomes(results: RunResults) -> tuple[SuiteOutcome, ...]:
    """Every suite of the run, sorted by spec path."""
    gates = {gate.spec: gate for gate in results.gates}
    specs = sorted({case.spec for case in results.cases} | set(gates))
    return tuple(_outcome(spec, [case for case in results.cases if case.spec == spec], gates.get(spec)) for spec in specs)
