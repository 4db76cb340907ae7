"""The records' one codec (core/records/codec.py): every record type round-trips, files an earlier version wrote read and
re-write byte for byte, and a hostile edit is one ResultsError naming the file, the field path and the fix."""

from __future__ import annotations

import copy
import dataclasses
import json
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gradcam_audit.core.evaluate.causal import CascadeStage, TransplantPair
from gradcam_audit.core.records.evidence import FaithfulnessCurves
from gradcam_audit.core.evaluate.gates import GateResult
from gradcam_audit.core.evaluate.outside_findings import Finding
from gradcam_audit.core.records.evidence import Hotspot, OutsideSweep
from gradcam_audit.core.records.regions import RegionEffect, RegionScore
from gradcam_audit.core.ledger.manifest import Manifest, ManifestFile, canonical_bytes, manifest_hash_holds
from gradcam_audit.core.ledger.entries import CaseEntry, GateEntry
from gradcam_audit.core.ledger.results_file import read_results, write_results
from gradcam_audit.core.ledger.run_results import RunResults, results_from_data
from gradcam_audit.core.ledger.schema import RECORDS, RESULTS_SCHEMA_PATH
from gradcam_audit.core.records.checks import Check
from gradcam_audit.core.records.codec import from_data, json_form, to_data
from gradcam_audit.core.records.comparison import (
    BaselineComparison,
    BaselineSummary,
    BaselineTally,
    CaseRules,
    CompactHeatmap,
    MetricDelta,
    RegionRules,
    RemovedCase,
)
from gradcam_audit.core.records.results import CaseResult, ClassInfo, dumps_strict, loads_strict
from gradcam_audit.core.records.task_target import TaskTargetRecord
from gradcam_audit.errors import ResultsError

FIXTURES = Path(__file__).parent / "fixtures"
OLD_FILES = sorted(FIXTURES.glob("*.results.json"))
CONSTRUCTED = FIXTURES / "old_constructed.results.json"


def _records(value: Any) -> Iterator[Any]:
    """Every record inside ``value`` (itself included), depth first."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield value
        for item in dataclasses.fields(value):
            yield from _records(getattr(value, item.name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _records(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _records(item)


def _old_runs() -> list[RunResults]:
    return [read_results(path) for path in OLD_FILES]


def test_the_old_files_hold_every_record_type_written_into_results() -> None:
    found = {type(record) for run in _old_runs() for record in _records(run)}
    # RegionEffect is flattened into its region; BaselineTally is only derived (a run's baseline_counts).
    # TaskTargetRecord is newer than these files (tests/report/test_task_target_pictures.py round-trips it).
    expected = set(RECORDS) - {BaselineTally, TaskTargetRecord} | {RegionEffect}
    assert expected <= found, sorted(record.__name__ for record in expected - found)


@pytest.mark.parametrize("path", OLD_FILES, ids=[path.name for path in OLD_FILES])
def test_a_file_the_earlier_version_wrote_reads_and_rewrites_byte_for_byte(path: Path, tmp_path: Path) -> None:
    again = tmp_path / "results.json"
    write_results(read_results(path), again)
    assert again.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", OLD_FILES, ids=[path.name for path in OLD_FILES])
def test_every_record_round_trips_through_strict_json(path: Path) -> None:
    checked: set[type] = set()
    for record in _records(read_results(path)):
        if type(record) is RegionEffect:  # written only inside its region
            continue
        text = dumps_strict(to_data(record))
        assert from_data(type(record), loads_strict(text, "x"), "x") == record, type(record).__name__
        checked.add(type(record))
    assert RunResults in checked and CaseEntry in checked


def test_what_is_written_follows_the_shipped_schema() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(RESULTS_SCHEMA_PATH.read_text(encoding="utf-8")))
    for run in _old_runs():
        errors = list(validator.iter_errors(json.loads(dumps_strict(to_data(run)))))
        assert not errors, [f"{list(error.absolute_path)}: {error.message[:200]}" for error in errors[:5]]


def test_derived_keys_are_written_and_recomputed_when_read() -> None:
    pair = TransplantPair("a", "b", 0, 1, 0, 0.75, ("cat", "dog", "cat"))
    data = to_data(pair)
    assert list(data) == ["donor", "recipient", "donor_class", "predicted_before", "predicted_after", "donor_probability_after",
                          "flipped", "labels"]
    assert data["flipped"] is True and data["labels"] == ["cat", "dog", "cat"]
    assert from_data(TransplantPair, {**data, "flipped": False}, "x") == pair  # the file's "flipped" is never trusted
    curves = FaithfulnessCurves(2, (0.9, 0.5, 0.1), (0.1, 0.5, 0.9))
    assert to_data(curves)["deletion_auc"] == pytest.approx(0.5) and from_data(FaithfulnessCurves, to_data(curves), "x") == curves
    assert to_data(CompactHeatmap(2, 1, "AP8=", 3.0)) == {"encoding": "uint8-base64", "width": 2, "height": 1, "peak": 3.0, "data": "AP8="}


def test_a_regions_causal_effect_sits_beside_its_numbers_and_only_where_measured() -> None:
    measured = RegionScore("cat", "required", 0.5, 2.0, 0.25, causal=RegionEffect("blur", 0.75, 0.25))
    data = to_data(measured)
    assert list(data)[-4:] == ["effect", "removal", "probability_before", "probability_after"] and data["effect"] == 0.5
    assert from_data(RegionScore, data, "x") == measured
    plain = to_data(RegionScore("cat", "required", 0.5, 2.0, 0.25))
    assert "effect" not in plain and "removal" not in plain and from_data(RegionScore, plain, "x").causal is None


def test_keys_left_out_where_the_earlier_writer_left_them_out() -> None:
    result = CaseResult(spec="s.yaml", id="c", method="gradcam", verdict="passed")
    assert "outside" not in to_data(result) and to_data(result)["faithfulness"] is None
    assert "baseline" not in to_data(CaseEntry("s.yaml", "c", "gradcam", "passed"))
    gate = GateResult("s.yaml", "passed", "", {"pass_rate": 1.0})
    assert set(to_data(gate)) == {"spec", "status", "reason", "measurements", "checks", "per_class", "cases_counted"}
    looked = GateResult("s.yaml", "passed", "", {"pass_rate": 1.0, "outside_dependence_rate": 0.0})
    assert to_data(looked)["findings"] == []  # measured and found nothing: written, empty
    run = to_data(RunResults(cases=()))
    assert "baseline" not in run and "baseline_counts" not in run and list(run)[:2] == ["schema", "verdict"]
    summary = BaselineSummary(("a.json",), folders=(Path("/secret"),))
    assert "folders" not in to_data(summary) and from_data(BaselineSummary, {**to_data(summary), "folders": ["/x"]}, "x").folders == ()


def test_region_rules_are_an_object_by_region_name() -> None:
    rules = CaseRules(False, 0.5, (("cat", RegionRules(0.1, 0.3)), ("tag", RegionRules())))
    data = to_data(rules)
    assert data["regions"] == {"cat": {"max_mass_rise": 0.1, "max_lift_drop": 0.3}, "tag": {"max_mass_rise": 0.02, "max_lift_drop": 0.25}}
    assert from_data(CaseRules, data, "x") == rules


def test_a_check_value_keeps_its_json_type() -> None:
    for value in (3, 0.5, True, "cat", None):
        check = Check("s", "m", value, value, "==", True)
        read = from_data(Check, to_data(check), "x")
        assert read == check and type(read.value) is type(value)


def test_missing_optional_keys_take_the_dataclass_defaults() -> None:
    entry = from_data(CaseEntry, {"spec": "s.yaml", "id": "c", "method": "gradcam", "status": "passed"}, "x")
    assert entry == CaseEntry("s.yaml", "c", "gradcam", "passed")
    region = from_data(RegionScore, {"name": "cat", "role": "required", "mass": 0.5, "lift": 2, "area_share": 0.25}, "x")
    assert region == RegionScore("cat", "required", 0.5, 2.0, 0.25) and type(region.lift) is float  # an integer is a number


def test_the_manifest_keeps_its_key_order_and_hash() -> None:
    manifest = Manifest("2025", "2025", "pytest", "passed", {"python": "3.11"}, {"gradcam_audit": "0.1"},
                        (ManifestFile("results", "results.json", "ab", 10),), sha256="")
    data = to_data(manifest)
    assert list(data) == ["manifest_schema", "created", "started", "command", "verdict", "versions", "written_by", "files", "manifest_sha256"]
    assert data["files"][0] == {"role": "results", "path": "results.json", "sha256": "ab", "size_bytes": 10, "recorded_sha256": None,
                                "matches_run": None, "note": ""}
    import hashlib

    hashed = to_data(dataclasses.replace(manifest, sha256=hashlib.sha256(canonical_bytes(data)).hexdigest()))
    assert manifest_hash_holds(hashed)


def test_every_json_form_names_real_fields_and_orders_every_key() -> None:
    for record in (*RECORDS, RegionEffect, Manifest):
        form = json_form(record)
        names = {item.name for item in dataclasses.fields(record)}
        assert set(form.renamed) | set(form.dropped) | set(form.choices) | set(form.checked_against) <= names, record.__name__
        if form.flattened is not None:
            assert form.flattened in names and typing.get_type_hints(record)[form.flattened] is not None


# -- hostile edits -------------------------------------------------------------------------------------------------------

def _edited(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(CONSTRUCTED.read_text(encoding="utf-8"))
    change(document)
    return document


def _region(document: dict[str, Any]) -> dict[str, Any]:
    region: dict[str, Any] = document["cases"][0]["result"]["regions"][0]
    return region


HOSTILE: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "text_for_number": (lambda document: _region(document).update(mass="abc"),
                        'cases[0].result.regions[0].mass: expected a number, got "abc"'),
    "bool_for_number": (lambda document: _region(document).update(lift=True), "cases[0].result.regions[0].lift: expected a number, got true"),
    "bool_for_integer": (lambda document: document["cases"][0].update(line=False), "cases[0].line: expected an integer, got false"),
    "float_for_integer": (lambda document: document["gates"][0]["result"].update(cases_counted=2.5),
                          "gates[0].result.cases_counted: expected an integer, got 2.5"),
    "number_for_text": (lambda document: document["cases"][0].update(id=7), "cases[0].id: expected text, got 7"),
    "list_for_mapping": (lambda document: document["cases"][0]["result"].update(target=[0, "cat"]),
                         "cases[0].result.target: expected an object {...}, got a list [...]"),
    "mapping_for_list": (lambda document: document["cases"][0]["result"].update(regions={"cat": {}}),
                         "cases[0].result.regions: expected a list [...], got an object {...}"),
    "missing_required_key": (lambda document: _region(document).pop("name"), "cases[0].result.regions[0].name: missing"),
    "text_for_bool": (lambda document: document["cases"][0]["result"]["checks"][0].update(passed="yes"),
                      'cases[0].result.checks[0].passed: expected true or false, got "yes"'),
    "list_for_check_value": (lambda document: document["cases"][0]["result"]["checks"][0].update(value=[1]),
                             "cases[0].result.checks[0].value: expected a number, true or false, text or null, got a list [...]"),
    "short_pair": (lambda document: document["cases"][0]["result"].update(image_size=[64]),
                   "cases[0].result.image_size: expected a list of 2 items, got 1 items"),
    "unknown_status": (lambda document: document["cases"][1].update(status="ok"),
                       'cases[1].status: expected one of passed, failed, error, xfailed, xpassed, skipped, not_run, got "ok"'),
    "unknown_heatmap_encoding": (lambda document: document["cases"][0]["result"]["heatmap"].update(encoding="png"),
                                 'cases[0].result.heatmap.encoding: expected "uint8-base64" (this version reads only that), got "png"'),
    "renamed_key_path": (lambda document: document["gates"][0]["result"]["transplants"][1].update(donor_class="cat"),
                         'gates[0].result.transplants[1].donor_class: expected an integer, got "cat"'),
    "region_rules_by_name": (lambda document: document["cases"][0]["result"]["baseline_rules"]["regions"]["tag"].update(max_lift_drop=None),
                             "cases[0].result.baseline_rules.regions.tag.max_lift_drop: expected a number, got null"),
    "text_gate_threshold": (lambda document: document["gates"][0]["thresholds"].update(transplant_pairs="many"),
                            'gates[0].thresholds.transplant_pairs: expected an integer, got "many"'),
    "flattened_effect": (lambda document: _region(document).update(probability_after="low"),
                         'cases[0].result.regions[0].probability_after: expected a number, got "low"'),
    "mapping_value": (lambda document: document["gates"][0]["result"]["per_class"]["cat"].update(pass_rate="half"),
                      'gates[0].result.per_class.cat.pass_rate: expected a number, got "half"'),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_edit_names_the_file_the_field_path_and_the_fix(name: str) -> None:
    change, problem = HOSTILE[name]
    with pytest.raises(ResultsError) as raised:
        results_from_data(_edited(change), "runs/7/results.json")
    message = str(raised.value)
    assert message.startswith("runs/7/results.json: not a valid gradcam_audit results file (1 problem):"), message
    assert f"\n  {problem}\n" in message, message
    assert message.endswith("fix: give the results.json a run wrote (pytest --gradcam-report / --gradcam-json), unedited"), message


def test_every_problem_is_listed_not_only_the_first() -> None:
    def break_twice(document: dict[str, Any]) -> None:
        _region(document).update(mass="abc")
        document["gates"][2].pop("spec")

    with pytest.raises(ResultsError) as raised:
        results_from_data(_edited(break_twice), "results.json")
    assert "(2 problems)" in str(raised.value) and "gates[2].spec: missing" in str(raised.value)


def test_an_edited_file_on_disk_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_edited(lambda document: _region(document).update(mass="abc"))), encoding="utf-8")
    with pytest.raises(ResultsError, match=r"results\.json: not a valid .*\n  cases\[0\]\.result\.regions\[0\]\.mass: expected a number"):
        read_results(path)


def test_a_record_that_is_not_an_object_is_refused_at_its_path() -> None:
    with pytest.raises(ResultsError, match=r"\n  \(top level\): expected an object \{\.\.\.\}, got 3\n"):
        from_data(MetricDelta, 3, "x")
    document = copy.deepcopy(to_data(BaselineComparison("regressed", True, deltas=(MetricDelta("a", "required", "lift", 1.0, 0.5, -0.5, None),))))
    document["deltas"][0] = "lift"
    with pytest.raises(ResultsError, match=r'\n  deltas\[0\]: expected an object \{\.\.\.\}, got "lift"\n'):
        from_data(BaselineComparison, document, "x")


def test_plain_records_round_trip_with_every_field_set() -> None:
    records = (
        RemovedCase("s.yaml", "gone", "gradcam", "passed"), BaselineTally(3, 1, 1, 1, 2, 1), ClassInfo(2, None, 0.5, -1.5),
        Hotspot((0, 0, 4, 4), 0.5), OutsideSweep(None, 0, (16, 12), "blur", skipped="nothing outside to test"),
        CascadeStage(1, 3, "dense", 0.25), Finding((0.0, 0.0, 0.5, 0.5), 2, 0.5, 0.75, ("a",), ("tag",), 4),
        GateEntry("s.yaml", "not_run", cause="other_shard", thresholds={"min_pass_rate": 1, "per_class": True}),
    )
    for record in records:
        assert from_data(type(record), loads_strict(dumps_strict(to_data(record)), "x"), "x") == record, type(record).__name__
    # A gate threshold is checked against the gate's field type, and kept as written (1 stays 1 for the merge).
    assert to_data(from_data(GateEntry, to_data(records[-1]), "x"))["thresholds"] == {"min_pass_rate": 1, "per_class": True}
