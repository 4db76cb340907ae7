"""Property-based: over good and broken specs, baselines and injected faults, every planned entry ends with exactly
one status and the run's one verdict is never "passed" when an entry did not finish, failed, or was not compared.

Pure core: specs are planned (never run), outcomes are injected as entries, so no model runs inside an example.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcam_audit.core.audit import Audit
from gradcam_audit.core.plan import AuditPlan, plan_audit
from gradcam_audit.core.baseline.compare import rebaseline_run
from gradcam_audit.core.baseline.files import Baseline
from gradcam_audit.core.ledger.entries import BLOCKING_STATUSES, SELECTION_CAUSES, STATUSES, CaseEntry
from gradcam_audit.core.ledger.judging import final_case_status, judge_gate
from gradcam_audit.core.ledger.merge import merge_results
from gradcam_audit.core.ledger.results_file import read_results, write_results
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.core.run.runner import AuditRunner
from gradcam_audit.rendering.text.terminal import VERDICT_WORDS, summary_line
from tests.spec.helpers import make_folder

GOOD = """model: model.keras
labels: [cat, dog]
{gate}cases:
  - id: first
    image: images/a.png
    target: cat
    regions: [{{name: body, box: [10, 10, 40, 30], min_mass: 0.3}}]
  - id: second
    image: images/b.png
    target: dog
    regions: [{{name: body, box: [10, 10, 40, 30], min_mass: 0.3}}]
"""
CORPUS = {
    "good.yaml": GOOD.format(gate=""),
    "gated.yaml": GOOD.format(gate="gate: {min_pass_rate: 0.5}\n"),
    "empty_cases.yaml": "model: model.keras\ncases: []\n",
    "mapping_cases.yaml": "model: model.keras\ncases:\n  first: {image: images/a.png}\n",
    "yaml_error.yaml": "model: [unclosed\n",
    "missing_model.yaml": GOOD.format(gate="").replace("model.keras", "gone.keras", 1),
    "one_invalid_case.yaml": GOOD.format(gate="").replace("min_mass: 0.3}]\n  - id: second", "min_mas: 0.3}]\n  - id: second"),
}
BROKEN = {"empty_cases.yaml", "mapping_cases.yaml", "yaml_error.yaml", "missing_model.yaml", "one_invalid_case.yaml"}

# What can happen to a planned case: it ends with a status, or a fault leaves it without one.
OUTCOMES = ("passed", "failed", "error", "xfailed", "xpassed", "skipped", "deselected", "interrupted", "missing", "crashed")
FAULTS = {"failed", "error", "xpassed", "interrupted", "missing", "crashed"}
# How an xdist worker's death is described (plugin/xdist_scheduling.py), for cases and gates that crashed twice.
CRASH = "worker gw1: Not properly terminated, crash 2 of 2"
BASELINES = ("none", "matching", "other_method", "partly_matching")
PROPERTY_SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, AuditPlan]:
    """Each spec of the corpus planned once (planning reads the YAML; nothing is computed)."""
    root = make_folder(tmp_path_factory.mktemp("verdict-corpus"))
    plans = {}
    for name, text in CORPUS.items():
        (root / name).write_text(text, encoding="utf-8")
        plans[name] = plan_audit([root / name])
    return plans


def _computed(key: tuple[str, str, str], verdict: str) -> CaseResult:
    return CaseResult(spec=key[0], id=key[1], method=key[2], verdict=verdict)


def _inject(audit: Audit, outcomes: list[str]) -> set[str]:
    """Record an outcome for each planned case that would run; returns the faults that were injected."""
    faults: set[str] = set()
    runnable = [planned for planned in audit.plan.cases if planned.job is not None]
    for planned, outcome in zip(runnable, outcomes + ["passed"] * len(runnable)):
        entry = planned.entry
        if outcome == "missing":
            faults.add(outcome)  # no result ever arrives: the ledger must close it
            continue
        if outcome == "crashed":
            audit.record_crash(planned.key, CRASH)
        elif outcome in ("deselected", "interrupted"):
            audit.record_case(replace(entry, status="not_run", cause=outcome, reason=outcome))
        elif outcome == "skipped":
            audit.record_case(replace(entry, status="skipped", cause="", reason="skipped by a marker"))
        else:
            xfail = "known" if outcome in ("xfailed", "xpassed") else None
            verdict = {"xfailed": "failed", "xpassed": "passed"}.get(outcome, outcome)
            status, _ = final_case_status(verdict, xfail)
            audit.record_case(replace(entry, status=status, cause="", xfail=xfail, result=_computed(planned.key, verdict)))
        if outcome in FAULTS:
            faults.add(outcome)
    return faults


def _baseline(kind: str, results: RunResults) -> Baseline | None:
    if kind == "none":
        return None
    keys = [case.key for case in results.cases if case.method != "-"]
    if kind == "other_method":
        keys = [(spec, case_id, "gradcam++") for spec, case_id, _ in keys]
    elif kind == "partly_matching":
        keys = keys[:1] + [(spec, case_id + "-renamed", method) for spec, case_id, method in keys[1:]]
    cases = {key: (CaseEntry(*key, status="passed", result=_computed(key, "passed")), 0) for key in keys}
    return Baseline(("base.json",), (), (2,), cases)


@PROPERTY_SETTINGS
@given(names=st.sets(st.sampled_from(sorted(CORPUS)), min_size=1, max_size=4),
       outcomes=st.lists(st.sampled_from(OUTCOMES), max_size=12),
       baseline_kind=st.sampled_from(BASELINES),
       judge_gates=st.booleans(),
       crash_gates=st.booleans())
def test_every_planned_entry_has_one_status_and_the_verdict_never_passes_over_a_fault(
        corpus: dict[str, AuditPlan], names: set[str], outcomes: list[str], baseline_kind: str, judge_gates: bool,
        crash_gates: bool, tmp_path_factory: pytest.TempPathFactory) -> None:
    plan = AuditPlan(tuple(spec for name in sorted(names) for spec in corpus[name].specs))
    audit = Audit(plan, AuditRunner())
    faults = _inject(audit, outcomes)
    if judge_gates:  # gates judged from whatever their cases ended with; otherwise their result never arrives
        cases = audit.ledger().cases
        for gate in plan.gates:
            if crash_gates and not gate.decided:  # the process judging it died twice
                assert audit.record_gate_crash(gate.entry.key, CRASH).status == "error"
                faults.add("crashed")
            else:
                audit.record_gate(judge_gate(gate.entry, cases))
    ledger = audit.ledger()
    baseline = _baseline(baseline_kind, ledger)
    results = ledger if baseline is None else rebaseline_run(ledger, baseline)

    # Every planned entry exactly once, each with one known status; nothing planned is absent.
    planned_keys = [case.key for case in plan.cases]
    assert sorted(case.key for case in results.cases) == sorted(planned_keys) and len(set(planned_keys)) == len(planned_keys)
    assert sorted(gate.key for gate in results.gates) == sorted(gate.entry.key for gate in plan.gates)
    assert all(entry.status in STATUSES for entry in results.entries)
    for spec_plan in plan.specs:  # a spec, broken or not, always leaves at least one entry
        assert any(case.spec == planned.entry.spec for case in results.cases for planned in spec_plan.cases) and spec_plan.cases

    broken = bool(names & BROKEN)
    runnable = any(planned.job is not None for planned in plan.cases)
    compared = baseline is not None and results.baseline_tally is not None and results.baseline_tally.compared > 0
    not_passed = broken or bool(faults)
    if plan.gates and not judge_gates and runnable:
        not_passed = True  # a gate whose result never arrived
    if baseline is not None and not compared:
        not_passed = True  # a release comparison that compared nothing
    verdict = results.verdict
    if not_passed:
        assert verdict != "passed", (sorted(names), outcomes, baseline_kind, summary_line(results))
    if verdict == "passed":
        assert not results.unfinished and not results.blocking
        assert all(entry.status != "not_run" or entry.cause in SELECTION_CAUSES for entry in results.entries)
        assert baseline is None or compared
    if not any(entry.status in BLOCKING_STATUSES for entry in results.entries) and results.complete:
        assert verdict == "passed"

    # One decision, whichever door the ledger goes through: written and read back, merged, summarised.
    folder = tmp_path_factory.mktemp("ledger")
    write_results(results, folder / "results.json")
    assert read_results(folder / "results.json").verdict == verdict == merge_results([results, results]).verdict
    assert summary_line(results).startswith(f"gradcam audit {VERDICT_WORDS[verdict]}:")


def test_a_case_or_gate_whose_process_crashed_twice_is_an_error_naming_the_crash(corpus: dict[str, AuditPlan]) -> None:
    audit = Audit(corpus["gated.yaml"], AuditRunner())
    first, second = audit.plan.cases
    audit.record_crash(first.key, CRASH)
    audit.record_case(replace(second.entry, status="passed", result=_computed(second.key, "passed")))
    (gate,) = audit.plan.gates
    audit.record_gate_crash(gate.entry.key, CRASH)
    results = audit.ledger()
    crashed_case = next(case for case in results.cases if case.key == first.key)
    assert crashed_case.status == "error" and CRASH in crashed_case.reason and "computing this case" in crashed_case.reason
    (crashed_gate,) = results.gates
    assert crashed_gate.status == "error" and CRASH in crashed_gate.reason and "judging this gate" in crashed_gate.reason
    assert results.verdict == "failed"
