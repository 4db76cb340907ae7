"""The shipped results JSON Schema describes what the writer really writes, on real runs of the shipped models."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gradcam_audit.core.ledger.merge import merge_results
from gradcam_audit.core.ledger.results_file import read_results, write_results
from gradcam_audit.core.ledger.schema import RESULTS_SCHEMA_PATH, results_schema, schema_text
from tests.plugin.conftest import SHORTCUT_MODEL, shipped_cases

CAUSAL_GATE = {"min_pass_rate": 0.5, "transplant": "corner-tag", "max_transplant_flip_rate": 0.05,
               "max_randomization_similarity": 0.9}


def _strict(path: Path) -> Any:
    """The document parsed refusing NaN / Infinity, as the schema's numbers are finite."""
    def refuse(constant: str) -> Any:
        raise AssertionError(f"{path} holds {constant}: not strict JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def _validate(document: Any) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(RESULTS_SCHEMA_PATH.read_text(encoding="utf-8")))
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}" for error in errors[:10])


def _run(pytester: pytest.Pytester, out: str, *arguments: str) -> Path:
    pytester.runpytest("--gradcam-report", f"{out}/index.html", "-p", "no:cacheprovider", *arguments)
    return pytester.path / out / "results.json"


def test_the_shipped_results_schema_is_the_generated_one() -> None:
    assert RESULTS_SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "gradcam_audit/schema/results.schema.json is stale: run python -m gradcam_audit.core.ledger.schema")
    jsonschema.Draft202012Validator.check_schema(results_schema())


def test_the_schema_refuses_unknown_keys_except_in_case_results() -> None:
    schema = results_schema()
    open_records = sorted(name for name, record in schema["$defs"].items() if record["additionalProperties"] is not False)
    assert open_records == ["CaseResult"] and schema["additionalProperties"] is False
    assert schema["$defs"]["CaseEntry"]["properties"]["status"]["enum"] == [
        "passed", "failed", "error", "xfailed", "xpassed", "skipped", "not_run"]


def test_a_passed_and_xfailed_run_with_causal_gates_and_picture_files_follows_the_schema(
        pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("honest.yaml", count=4, gate=CAUSAL_GATE)
    write_spec("shortcut.yaml", count=4, model=str(SHORTCUT_MODEL), gate=CAUSAL_GATE, xfail="reads the corner tag",
               cases=[{**case, "regions": [{**region, "max_mass": 0.01} if region["name"] == "corner-tag" else region
                                           for region in case["regions"]]} for case in shipped_cases(4)])
    results = _run(pytester, "out", "--gradcam-specs", "honest.yaml", "--gradcam-specs", "shortcut.yaml",
                   "--gradcam-report-images", "files")
    document = _strict(results)
    statuses = {case["status"] for case in document["cases"]}
    assert {"passed", "xfailed"} <= statuses
    assert any(gate["result"] and gate["result"].get("transplants") and gate["result"].get("cascade") for gate in document["gates"])
    assert any(case["images"] for case in document["cases"])
    _validate(document)
    # Strict where it matters: an unknown status, a stray key or a missing one is refused.
    for broken in ({**document, "verdict": "mostly"}, {**document, "extra": 1},
                   {**document, "cases": [{**document["cases"][0], "status": "ok"}]},
                   {key: value for key, value in document.items() if key != "counts"}):
        with pytest.raises(AssertionError):
            _validate(broken)
    # ... but a case's result may carry keys a later version adds.
    _validate({**document, "cases": [{**document["cases"][0], "result": {**document["cases"][0]["result"], "a_key_of_a_later_version": {}}}]})


def test_a_run_with_errors_and_deselected_cases_follows_the_schema(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    cases = shipped_cases(3)
    cases[1]["image"] = str(pytester.path / "missing.png")
    write_spec("suite.yaml", cases=cases, gate={"min_pass_rate": 0.9})
    document = _strict(_run(pytester, "out", "--gradcam-specs", "suite.yaml", "-k", "not stripes-0002"))
    assert {case["status"] for case in document["cases"]} == {"passed", "error", "not_run"}
    assert document["gates"][0]["status"] == "not_run" and document["verdict"] == "failed"
    _validate(document)


def test_shards_and_their_merge_follow_the_schema(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("suite.yaml", count=4, gate={"min_pass_rate": 0.5})
    shards = [_run(pytester, f"shard{index}", "--gradcam-specs", "suite.yaml", "--gradcam-shard", f"{index}/2") for index in (1, 2)]
    for shard in shards:
        _validate(_strict(shard))
    merged = pytester.path / "merged" / "results.json"
    write_results(merge_results([read_results(shard) for shard in shards]), merged)
    document = _strict(merged)
    assert document["verdict"] == "passed" and document["gates"][0]["status"] == "passed"
    _validate(document)


def test_a_baseline_comparison_follows_the_schema(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("suite.yaml", count=3)
    baseline = _run(pytester, "before", "--gradcam-specs", "suite.yaml")
    document = _strict(_run(pytester, "after", "--gradcam-specs", "suite.yaml", "--gradcam-baseline", str(baseline)))
    assert document["baseline_counts"]["compared"] == 3 and document["cases"][0]["result"]["baseline"]["status"] == "unchanged"
    _validate(document)
