"""core/baseline/ on hand-made results: the regression rules, the heatmap code, similarity and reading baselines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gradcam_audit.core.baseline.compare import compare_case, rebaseline_run
from gradcam_audit.core.baseline.files import load_baseline
from gradcam_audit.core.baseline.rules import BaselineError, parse_rule_settings
from gradcam_audit.core.baseline.similarity import heatmap_similarity
from gradcam_audit.core.records.comparison import CaseRules, CompactHeatmap, RegionRules
from gradcam_audit.core.records.checks import decide
from gradcam_audit.core.ledger.entries import CaseEntry
from gradcam_audit.core.ledger.results_file import write_results
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.records.results import CaseResult, dumps_strict, loads_strict
from gradcam_audit.core.records.regions import RegionScore
from gradcam_audit.core.records.codec import from_data, to_data


def _region(name: str, role: str, mass: float, lift: float, limit_key: str = "max_mass", limit: float = 0.5) -> RegionScore:
    comparison = "<=" if limit_key == "max_mass" else ">="
    value = mass if limit_key != "min_lift" else lift
    metric = "lift" if limit_key == "min_lift" else "mass"
    return RegionScore(name, role, mass, lift, 0.1, 0.0, (decide(name, metric, value, comparison, limit, threshold_key=limit_key),))


def _result(tag_mass: float, object_lift: float, heatmap: np.ndarray | None = None, sha: str = "a" * 64) -> CaseResult:
    regions = (_region("corner-tag", "forbidden", tag_mass, tag_mass * 10), _region("stripes", "required", 0.4, object_lift, "min_lift", 1.0))
    verdict = "passed" if all(region.passed for region in regions) else "failed"
    return CaseResult(spec="specs/x.yaml", id="c1", method="gradcam", verdict=verdict, regions=regions, model_sha256=sha,
                      heatmap=CompactHeatmap.encode(heatmap) if heatmap is not None else None)


def _baseline(tmp_path: Path, result: CaseResult, name: str = "results.json") -> Path:
    entry = CaseEntry(spec=result.spec, id=result.id, method=result.method, status=result.verdict, result=result)
    path = tmp_path / name
    write_results(RunResults(cases=(entry,)), path)
    return path


def test_a_forbidden_region_may_rise_by_the_tolerance_and_no_more(tmp_path: Path) -> None:
    baseline = load_baseline([_baseline(tmp_path, _result(0.010, 4.0))])
    within = compare_case(_result(0.029, 4.0), baseline.find(("specs/x.yaml", "c1", "gradcam")), CaseRules())
    assert within.status == "unchanged" and not within.regressed
    beyond = compare_case(_result(0.121, 4.0), baseline.find(("specs/x.yaml", "c1", "gradcam")), CaseRules())
    assert beyond.status == "regressed" and beyond.regressed
    failed = [check for check in beyond.checks if not check.passed]
    assert [check.reason for check in failed] == ["regressed vs baseline: corner-tag mass 0.010 → 0.121 (+0.111, allowed +0.02)"]
    assert failed[0].value == pytest.approx(0.111) and failed[0].limit == 0.02 and failed[0].threshold_key == "baseline.max_mass_rise"


def test_a_required_lift_may_fall_by_a_quarter_and_a_passing_case_must_still_pass(tmp_path: Path) -> None:
    baseline = load_baseline([_baseline(tmp_path, _result(0.01, 4.0))])
    found = baseline.find(("specs/x.yaml", "c1", "gradcam"))
    assert not compare_case(_result(0.01, 3.01), found, CaseRules()).regressed  # −24.75 %
    fallen = compare_case(_result(0.01, 2.0), found, CaseRules())
    assert [check.reason for check in fallen.checks if not check.passed] == [
        "regressed vs baseline: stripes lift 4.00 → 2.00 (−50%, allowed −25%)"]
    below_threshold = compare_case(_result(0.01, 0.9), found, CaseRules(regions=(("stripes", RegionRules(max_lift_drop=0.99)),)))
    assert [check.metric for check in below_threshold.checks if not check.passed] == ["still_passes"]
    improved = compare_case(_result(0.0, 6.0), found, CaseRules())
    assert improved.status == "improved" and not improved.regressed


def test_heatmap_code_is_small_exact_to_8_bits_and_strict_json() -> None:
    heatmap = np.random.default_rng(0).random((14, 14))
    code = CompactHeatmap.encode(heatmap)
    assert code is not None and (code.width, code.height) == (14, 14)
    assert np.abs(code.decode() - heatmap / heatmap.max()).max() <= 0.5 / 255 + 1e-12
    assert len(json.dumps(to_data(code))) < 400
    large = CompactHeatmap.encode(np.ones((200, 130)))
    assert large is not None and max(large.width, large.height) <= 64 and len(json.dumps(to_data(large))) < 6000
    assert CompactHeatmap.encode(np.zeros((7, 7))) is None and CompactHeatmap.encode(np.full((7, 7), np.nan)) is None
    result = _result(0.01, 4.0, heatmap)
    assert from_data(CaseResult, loads_strict(dumps_strict(to_data(result)), "x"), "x") == result


def test_spearman_similarity_is_one_for_the_same_map_and_minus_one_reversed() -> None:
    heatmap = np.arange(64, dtype=float).reshape(8, 8) + 1
    code = CompactHeatmap.encode(heatmap)
    reversed_code = CompactHeatmap.encode(heatmap.max() + 1 - heatmap)
    assert code is not None and reversed_code is not None
    assert heatmap_similarity(code, code) == (pytest.approx(1.0), "")
    assert heatmap_similarity(code, reversed_code)[0] == pytest.approx(-1.0)
    coarse = CompactHeatmap.encode(heatmap[::2, ::2])
    assert coarse is not None
    similarity, note = heatmap_similarity(code, coarse)
    assert similarity is not None and similarity > 0.95 and "resampled" in note


def test_a_similarity_rule_fails_below_its_limit_and_cannot_pass_without_a_baseline_heatmap(tmp_path: Path) -> None:
    heatmap = np.arange(64, dtype=float).reshape(8, 8) + 1
    baseline = load_baseline([_baseline(tmp_path, _result(0.01, 4.0, heatmap))])
    found = baseline.find(("specs/x.yaml", "c1", "gradcam"))
    rules = CaseRules(min_heatmap_similarity=0.8)
    assert not compare_case(_result(0.01, 4.0, heatmap), found, rules).regressed
    flipped = compare_case(_result(0.01, 4.0, heatmap[::-1, ::-1]), found, rules)
    assert flipped.regressed and flipped.heatmap_similarity == pytest.approx(-1.0)
    missing = compare_case(_result(0.01, 4.0), found, rules)
    assert missing.regressed and "cannot be judged: this run has no heatmap" in missing.checks[-1].reason


def test_same_model_is_noted_and_the_offline_comparison_fails_the_case_and_its_status(tmp_path: Path) -> None:
    baseline = load_baseline([_baseline(tmp_path, _result(0.01, 4.0))])
    candidate = RunResults(cases=(CaseEntry(spec="specs/x.yaml", id="c1", method="gradcam", status="passed", result=_result(0.2, 4.0)),))
    compared = rebaseline_run(candidate, baseline)
    assert compared.cases[0].status == "failed" and compared.cases[0].result is not None
    assert compared.cases[0].result.verdict == "failed" and compared.cases[0].result.baseline is not None
    assert compared.baseline is not None and any("comparing a model with itself" in note for note in compared.baseline.notes)
    again = rebaseline_run(compared, baseline, {"max_mass_rise": 0.5})  # an earlier comparison is replaced, not stacked
    assert again.cases[0].status == "passed" and len([c for c in again.cases[0].result.checks if c.threshold_key.startswith("baseline.")]) == 3  # type: ignore[union-attr]


def test_a_schema_1_baseline_is_read_and_other_schemas_are_refused_naming_the_numbers(tmp_path: Path) -> None:
    old = {"schema": 1, "cases": [{"spec": "specs/x.yaml", "id": "c1", "method": "gradcam", "status": "passed", "model_sha256": "b" * 64,
                                   "regions": [{"name": "corner-tag", "role": "forbidden", "mass": 0.01, "lift": 0.1, "area_share": 0.1,
                                                "failures": []}], "images": {}}]}
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    baseline = load_baseline([tmp_path / "old.json"])
    assert baseline.schemas == (1,) and "schema 1 and read as schema 2" in baseline.notes[0]
    comparison = compare_case(_result(0.2, 4.0), baseline.find(("specs/x.yaml", "c1", "gradcam")), CaseRules())
    assert comparison.regressed and comparison.baseline_verdict == "passed"
    (tmp_path / "new.json").write_text('{"schema": 3, "cases": []}', encoding="utf-8")
    with pytest.raises(BaselineError, match="results schema 3, by a newer gradcam_audit; this version reads schemas 1 and 2"):
        load_baseline([tmp_path / "new.json"])
    (tmp_path / "zero.json").write_text('{"schema": 0, "cases": []}', encoding="utf-8")
    with pytest.raises(BaselineError, match="has results schema 0; this version reads schemas 1 and 2"):
        load_baseline([tmp_path / "zero.json"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BaselineError, match="holds no results file"):
        load_baseline([tmp_path / "empty"])


@pytest.mark.parametrize(("item", "message"), [
    ("max_mass_rise", "expected KEY=VALUE"),
    ("max_mass_ris=0.1", "unknown baseline rule 'max_mass_ris'"),
    ("max_lift_drop=-1", "max_lift_drop must be a finite number ≥ 0"),
    ("min_heatmap_similarity=2", "between -1 and 1"),
    ("must_still_pass=maybe", "must_still_pass must be true or false"),
])
def test_rule_settings_are_checked(item: str, message: str) -> None:
    with pytest.raises(BaselineError, match=message):
        parse_rule_settings([item])


def test_a_spec_case_and_region_baseline_inherit_and_are_checked(tmp_path: Path) -> None:
    from gradcam_audit.core.baseline.rules import case_rules
    from gradcam_audit.core.spec.load import parse_spec

    (tmp_path / "m.keras").write_bytes(b"placeholder")
    image = Path(__file__).resolve().parents[2] / "specs" / "images" / "stripes-0000.png"
    (tmp_path / "s.yaml").write_text(f"""model: m.keras
defaults:
  baseline: {{max_mass_rise: 0.05}}
cases:
  - id: a
    image: {image}
    baseline: {{min_heatmap_similarity: 0.8, must_still_pass: false}}
    regions:
      - {{name: tag, box: [0, 0, 10, 10], max_mass: 0.1, baseline: {{max_mass_rise: 0.01}}}}
      - {{name: object, box: [0, 0, 10, 10], min_lift: 1.1}}
  - id: b
    image: {image}
    regions:
      - {{name: tag, box: [0, 0, 10, 10], max_mass: 0.1, baseline: {{must_still_pass: true, max_lift_drop: -1}}}}
""", encoding="utf-8")
    parsed = parse_spec(tmp_path / "s.yaml")
    assert parsed.spec is not None
    rules = case_rules(parsed.spec.cases[0], {"max_lift_drop": 0.1})
    assert rules == CaseRules(False, 0.8, (("tag", RegionRules(0.01, 0.1)), ("object", RegionRules(0.05, 0.1))))
    problems = {problem.field: problem.message for problem in parsed.all_problems}
    assert problems == {"cases[1].regions[0].baseline.must_still_pass": "unknown key 'must_still_pass'",
                        "cases[1].regions[0].baseline.max_lift_drop": "got -1.0; expected a number ≥ 0 (a tolerance)"}
