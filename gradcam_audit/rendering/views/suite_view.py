"""What the report shows of each suite: its row in the summary, its gate in plain words, the technical figures behind them.

Formatting only: each suite's status and what its cases missed come from core/ledger/suite_outcome.py, each gate check's
verdict from core/evaluate/gates.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from gradcam_audit.core.records.checks import Check
from gradcam_audit.core.ledger.entries import GateEntry
from gradcam_audit.core.ledger.suite_outcome import RegionMiss, SuiteOutcome
from gradcam_audit.rendering.views.case_view import STATUS_WORDS, plural, sentence
from gradcam_audit.rendering.views.causal_view import CascadeStageView, cascade_views, flip_lines
from gradcam_audit.rendering.views.check_format import limit_words, value_text, words_for
from gradcam_audit.rendering.views.outside_view import OutsideView


@dataclass(frozen=True)
class GateRowView:
    metric: str
    value: str
    threshold: str
    verdict: str
    state: str  # "ok" | "fail" | "info"


@dataclass(frozen=True)
class GateView:
    suite: str
    status: str
    status_words: str
    headline: str
    reason: str
    rows: tuple[GateRowView, ...]
    flips: tuple[str, ...] = ()  # transplant pairs whose prediction changed to the donor's class
    cascade: tuple[CascadeStageView, ...] = ()  # the cascading weight randomisation, top layer down
    cascade_case: str = ""
    plain: tuple[tuple[str, str], ...] = ()  # (state, sentence): each gate check said for a non-engineer


@dataclass(frozen=True)
class SuiteView:
    name: str
    anchor: str
    counts: str
    gate: GateView | None
    chart: str = ""  # data URI of the per-class chart, if rendered
    chart_alt: str = ""
    status: str = ""  # the suite's status (core/ledger/suite_outcome.py)
    status_words: str = ""
    finding: str = ""  # what the suite showed, in one sentence ("failed, as expected: its model relies on the corner tag …")
    known_problem: str = ""  # the spec's expected-failure reason
    outside: OutsideView | None = None  # what the model relies on outside the regions (max_outside_effect)


def _region_words(name: str) -> str:
    """A region's name as words in a sentence: "corner-tag" → "the corner tag (“corner-tag”)"."""
    spoken = " ".join(name.replace("-", " ").replace("_", " ").split())
    return f"the {spoken} (“{name}”)" if spoken != name else f"“{name}”"


def _miss_words(miss: RegionMiss, failing: int) -> str:
    share = f"in {miss.cases} of {plural(failing, 'failing case')}"
    if miss.role == "forbidden":
        return f"relies on {_region_words(miss.name)}, a region it must not use, {share}"
    if miss.role == "required":
        return f"looks too little at {_region_words(miss.name)}, where it must look, {share}"
    return f"misses a check on {_region_words(miss.name)} {share}"


def suite_finding(outcome: SuiteOutcome) -> str:
    """The suite's outcome as a sentence fragment: its status in words, then what its failing cases missed."""
    problems = [_miss_words(miss, outcome.failing_cases) for miss in outcome.missed_regions[:2]]
    if outcome.wrong_predictions:
        problems.append(f"predicts the wrong class in {plural(outcome.wrong_predictions, 'case')}")
    if not problems and outcome.gate_misses:
        problems.append("its gate misses " + ", ".join(words_for(metric).label for metric in outcome.gate_misses))
    what = ("its model " + ", ".join(problems[:-1]) + (" and " if len(problems) > 1 else "") + problems[-1]) if problems else ""
    if outcome.status == "passed":
        return "passed: its model looked where it should in every case" + (" and met its gate" if outcome.gate_status == "passed" else "")
    if outcome.status == "xfailed":
        return "failed, as expected (a known problem)" + (f": {what}" if what else "")
    if outcome.status == "failed":
        errors = f"; {plural(outcome.errors, 'case')} could not be checked" if outcome.errors else ""
        return "FAILED" + (f": {what}" if what else "") + errors
    if outcome.status == "xpassed":
        return "passed although expected to fail: if the known problem is fixed, remove its expected-failure mark"
    if outcome.status == "error":
        return "could not be checked completely: some of its cases or its gate ended in an error"
    if outcome.status == "not_run":
        return "did not finish: some of its cases or its gate did not run"
    return STATUS_WORDS.get(outcome.status, outcome.status)


def suite_label(spec: str, specs: tuple[str, ...]) -> str:
    """The suite's short name (its file's stem), or its path where two suites share a stem."""
    stem = PurePosixPath(spec).stem
    return stem if sum(1 for other in specs if PurePosixPath(other).stem == stem) == 1 else spec


def _gate_rows(gate: GateEntry) -> list[GateRowView]:
    result = gate.result
    if result is None:
        return []
    rows = [GateRowView(("" if check.subject == "gate" else f"{check.subject}: ") + words_for(check.metric).label, value_text(check),
                        limit_words(check), "pass" if check.passed else "FAIL", "ok" if check.passed else "fail") for check in result.checks]
    gated = {check.metric for check in result.checks if check.subject == "gate"}
    for metric, value in result.measurements.items():
        if metric not in gated:
            info = Check("gate", metric, value, None, ">=", False)
            rows.append(GateRowView(words_for(metric).label, value_text(info), "not gated", "for information", "info"))
    return rows


def _plain_check(check: Check, gate: GateEntry) -> str:
    """One gate check in words a non-engineer follows; the exact figures stay in the technical table."""
    result = gate.result
    figures = f"{value_text(check)} (needs {limit_words(check)})"
    if check.metric == "transplant_flip_rate":
        region = str(gate.thresholds.get("transplant") or "the region")
        pairs = result.measurements.get("transplant_pairs") if result is not None else None
        tries = f" of {pairs:g} tries" if isinstance(pairs, float) else ""
        told = (f"so the model decides by {_region_words(region)}" if not check.passed
                else f"so the model does not decide by {_region_words(region)}")
        return (f"Swap test: pasting {_region_words(region)} of one class’s pictures into another class’s pictures changed the "
                f"model’s answer in {value_text(check)}{tries} (needs {limit_words(check)}), {told}.")
    if check.metric == "randomization_similarity":
        told = ("the heatmaps change when what the model learned is destroyed, so they show the model’s reasoning" if check.passed
                else "the heatmaps hardly change when what the model learned is destroyed, so they show the picture, not the model’s reasoning")
        return (f"Sanity test: after scrambling the model’s learned weights, the heatmaps’ similarity to the trained model’s was "
                f"{figures}: {told}.")
    if check.subject == "gate":
        return f"{words_for(check.metric).label.capitalize()}: {figures} — {'met' if check.passed else 'missed'}."
    return f"{check.subject}: {words_for(check.metric).label} {figures} — {'met' if check.passed else 'missed'}."


def gate_view(gate: GateEntry, colormap: str) -> GateView:
    rows = _gate_rows(gate)
    misses = [row.metric for row in rows if row.state == "fail"]
    counted = gate.result.cases_counted if gate.result is not None else 0
    over = f" over {plural(counted, 'case')}" if counted else ""
    if gate.status == "passed":
        headline = f"Gate passed{over}: every suite-level threshold is met."
    elif gate.status == "xfailed":
        headline = f"Gate failed{over}, as expected (known problem)" + (": " + ", ".join(misses) + " below threshold." if misses else ".")
    elif gate.status == "xpassed":
        headline = f"Gate was expected to fail but passed{over}: remove the expected-failure mark if the problem is fixed."
    elif gate.status == "not_run":
        headline = f"Gate not judged: {sentence([gate.reason], capital=False)}"
    elif gate.status == "error":
        headline = f"Gate could not be judged: {sentence([gate.reason], capital=False)}"
    elif misses:
        headline = f"Gate FAILED{over}: " + ", ".join(misses) + " below threshold."
    else:
        headline = f"Gate {STATUS_WORDS.get(gate.status, gate.status)}{over}."
    plain = tuple(("ok" if check.passed else "fail", _plain_check(check, gate)) for check in (gate.result.checks if gate.result else ()))
    return GateView(gate.spec, gate.status, STATUS_WORDS.get(gate.status, gate.status), headline, gate.reason, tuple(rows),
                    flip_lines(gate), cascade_views(gate, colormap), gate.result.cascade_case if gate.result is not None else "", plain)
