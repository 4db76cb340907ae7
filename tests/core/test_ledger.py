"""The ledger decides the run's verdict once: complete or not, blocking or not; merged shards judge their gates once."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gradcam_audit.core.records.checks import decide, holds
from gradcam_audit.core.ledger.entries import CaseEntry, GateEntry
from gradcam_audit.core.ledger.merge import merge_results
from gradcam_audit.core.ledger.results_file import read_results, write_results
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.errors import ResultsError
from gradcam_audit.core.records.codec import to_data


def entry(case_id: str, status: str, cause: str = "", spec: str = "a.yaml") -> CaseEntry:
    result = CaseResult(spec=spec, id=case_id, method="gradcam", verdict=status) if status in ("passed", "failed") else None
    return CaseEntry(spec=spec, id=case_id, method="gradcam", status=status, cause=cause, result=result)


def gate(status: str = "not_run", cause: str = "other_shard", spec: str = "a.yaml") -> GateEntry:
    return GateEntry(spec=spec, status=status, cause=cause, thresholds={"min_pass_rate": 0.5, "per_class": False}, methods=("gradcam",))


@pytest.mark.parametrize(
    ("statuses", "verdict"),
    [
        ((("passed", ""), ("xfailed", "")), "passed"),
        ((("passed", ""), ("failed", "")), "failed"),
        ((("passed", ""), ("xpassed", "")), "failed"),
        ((("passed", ""), ("error", "")), "failed"),
        ((("passed", ""), ("not_run", "deselected")), "passed"),
        ((("passed", ""), ("not_run", "other_shard")), "passed"),
        ((("passed", ""), ("not_run", "interrupted")), "incomplete"),
        ((("failed", ""), ("not_run", "no_result")), "incomplete"),
    ],
)
def test_the_verdict_is_incomplete_whenever_something_planned_did_not_finish(statuses: tuple[tuple[str, str], ...], verdict: str) -> None:
    results = RunResults(cases=tuple(entry(f"c{index}", status, cause) for index, (status, cause) in enumerate(statuses)))
    assert results.verdict == verdict
    assert results.complete is (verdict != "incomplete")


def test_results_are_strict_json_even_if_a_non_finite_number_slipped_through(tmp_path: Path) -> None:
    bad = CaseEntry(spec="a.yaml", id="x", method="gradcam", status="error", duration_s=math.nan,
                    result=CaseResult(spec="a.yaml", id="x", method="gradcam", verdict="error"))
    path = tmp_path / "results.json"
    write_results(RunResults(cases=(bad,), duration_s=math.inf), path)
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda constant: pytest.fail(f"{constant} in results"))


def test_a_results_file_with_nan_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"schema": 2, "cases": [], "duration_s": NaN}', encoding="utf-8")
    with pytest.raises(ResultsError, match="results.json.*NaN"):
        read_results(path)


def test_merging_a_shard_with_itself_keeps_each_case_once_with_a_note() -> None:
    shard = RunResults(cases=(entry("c1", "passed"), entry("c2", "not_run", "other_shard")))
    merged = merge_results([shard, shard], ["shard1.json", "shard1.json"])
    assert [case.id for case in merged.cases] == ["c1", "c2"]
    assert any("c1" in note and "both" in note for note in merged.notes)


def test_a_case_no_merged_shard_ran_makes_the_merge_incomplete() -> None:
    merged = merge_results([RunResults(cases=(entry("c1", "passed"), entry("c2", "not_run", "other_shard")))])
    assert merged.verdict == "incomplete"
    assert next(case for case in merged.cases if case.id == "c2").cause == "missing_shard"


def test_a_gate_split_across_shards_is_judged_once_from_the_merged_cases() -> None:
    first = RunResults(cases=(entry("c1", "passed"), entry("c2", "not_run", "other_shard")), gates=(gate(),))
    second = RunResults(cases=(entry("c1", "not_run", "other_shard"), entry("c2", "failed")), gates=(gate(),))
    merged = merge_results([first, second])
    (judged,) = merged.gates
    assert judged.status == "passed" and judged.result is not None
    assert judged.result.measurements["pass_rate"] == pytest.approx(0.5)
    assert merged.verdict == "failed"  # c2 failed; the gate's 50 % meets its 0.5


def test_checks_never_hold_on_missing_or_non_finite_numbers() -> None:
    assert not holds(None, ">=", 0.0)
    assert not holds(math.nan, ">=", 0.0) and not holds(0.5, "<=", math.nan)
    assert holds(0.0, ">=", 0.0)
    missed = decide("tag", "mass", 0.2, "<=", 0.04, threshold_key="max_mass")
    assert not missed.passed and missed.reason == "mass 0.200 > max_mass 0.04"
    exact = decide("tag", "mass", 1.0, ">=", 1.0000001, threshold_key="min_mass")
    assert "1.0000001" in exact.reason


def test_the_streamed_file_is_the_documents_strict_json(tmp_path: Path) -> None:
    from gradcam_audit.core.ledger.results_file import write_results
    from gradcam_audit.core.records.results import dumps_strict

    for cases in ((), (CaseEntry(spec="a.yaml", id="x", method="gradcam", status="passed"),
                       CaseEntry(spec="a.yaml", id="y", method="gradcam", status="not_run", cause="interrupted"))):
        run = RunResults(cases=cases)
        write_results(run, tmp_path / "results.json")
        written = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
        assert written == json.loads(dumps_strict(to_data(run))) and len(written["cases"]) == len(cases)
        assert not (tmp_path / "results.json.partial").exists()
