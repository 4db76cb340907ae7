"""Reading a results JSON given to `gradcam-audit report`: any file a user names, checked field by field.

The file may be hand-edited, truncated by a full disk, saved as UTF-16 by an editor, or not JSON at all; each
case becomes one message with the JSON field path (``cases[3].regions[0].mass``), never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradcam_audit.errors import ResultsError

if TYPE_CHECKING:
    from gradcam_audit.core.ledger.run_results import RunResults

_LISTED_PROBLEMS = 20


@dataclass(frozen=True)
class _Field:
    """What one key holds: ``kind`` is str, int, number, bool, class, region, case, gate, or a list/mapping of those."""

    kind: str
    required: bool = False
    nullable: bool = False


# The ledger's file format (core/ledger/run_results.py: RunResults; core/ledger/entries.py: CaseEntry, GateEntry; core/records/results.py: CaseResult;
# core/evaluate/scoring.py: RegionScore). Only the fields whose type matters for reading back; unknown keys are ignored,
# as the readers do. Keep in step with their from_dict methods (tests/hostile checks a file the writer produced).
_CLASS = {"index": _Field("int", required=True), "label": _Field("str", nullable=True),
          "score": _Field("number", nullable=True), "logit": _Field("number", nullable=True)}
_REGION = {
    "name": _Field("str", required=True), "role": _Field("str", required=True), "mass": _Field("number", required=True),
    "lift": _Field("number", required=True), "area_share": _Field("number", required=True),
    "unseen_share": _Field("number"), "checks": _Field("list:any"), "iou_threshold": _Field("number"),
    "outline": _Field("list:point"),
}
_RESULT = {
    "spec": _Field("str", required=True), "id": _Field("id", required=True), "method": _Field("str", required=True),
    "verdict": _Field("str", required=True), "reason": _Field("str"), "layer": _Field("str", nullable=True),
    "layer_reason": _Field("str", nullable=True), "score_kind": _Field("str", nullable=True),
    "predicted": _Field("class", nullable=True), "target": _Field("class", nullable=True),
    "expect_class": _Field("class", nullable=True), "regions": _Field("list:region"), "checks": _Field("list:any"),
    "degenerate": _Field("str", nullable=True), "image": _Field("str", nullable=True),
    "image_size": _Field("size", nullable=True), "model": _Field("str", nullable=True),
    "model_sha256": _Field("str", nullable=True), "preprocess": _Field("str", nullable=True),
    "resize": _Field("str", nullable=True),
    "resize_filter": _Field("str", nullable=True),
    "faithfulness": _Field("faithfulness", nullable=True),
}
_FAITHFULNESS = {"steps": _Field("int", required=True), "deletion": _Field("list:number", required=True),
                 "insertion": _Field("list:number", required=True)}
_CASE = {
    "spec": _Field("str", required=True), "id": _Field("id", required=True), "method": _Field("str", required=True),
    "status": _Field("str", required=True), "reason": _Field("str"), "cause": _Field("str"),
    "xfail": _Field("str", nullable=True), "tags": _Field("list:str"), "line": _Field("int", nullable=True),
    "result": _Field("result", nullable=True), "images": _Field("map:str"), "nodeid": _Field("str", nullable=True),
    "duration_s": _Field("number"),
}
# A gate's thresholds, judged again when shards merge (core/ledger/entries.py GateEntry.gate): a text threshold is the
# file's mistake, named here, not a ValueError in the merge.
_THRESHOLDS = {"min_pass_rate": _Field("number", nullable=True), "min_mean_mass": _Field("number", nullable=True),
               "min_mean_lift": _Field("number", nullable=True), "per_class": _Field("bool", nullable=True),
               "max_transplant_flip_rate": _Field("number", nullable=True), "transplant_pairs": _Field("int", nullable=True),
               "max_randomization_similarity": _Field("number", nullable=True)}
_GATE = {
    "spec": _Field("str", required=True), "status": _Field("str", required=True), "reason": _Field("str"),
    "cause": _Field("str"), "xfail": _Field("str", nullable=True), "line": _Field("int", nullable=True),
    "thresholds": _Field("thresholds"), "methods": _Field("list:str"), "invalid_cases": _Field("int"),
    "result": _Field("map:any", nullable=True), "nodeid": _Field("str", nullable=True),
}
_RUN = {"schema": _Field("int", required=True), "started": _Field("str"), "duration_s": _Field("number"),
        "command": _Field("str"), "versions": _Field("map:str"), "notes": _Field("list:str"),
        "cases": _Field("list:case", required=True), "gates": _Field("list:gate")}
_RECORDS = {"thresholds": _THRESHOLDS, "class": _CLASS, "region": _REGION, "result": _RESULT, "case": _CASE, "gate": _GATE, "faithfulness": _FAITHFULNESS}
_EXPECTED = {"str": "text", "int": "an integer", "number": "a number", "bool": "true or false", "id": "text or an integer",
             "size": "[width, height] (two integers)", "point": "[x, y] (two numbers)", "any": "a value"}


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "an object {...}"
    if isinstance(value, list):
        return "a list [...]"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(value: Any, kind: str, path: str, problems: list[str]) -> None:
    if kind.startswith("list:"):
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {_describe(value)}")
            return
        for index, item in enumerate(value):
            _check(item, kind[5:], f"{path}[{index}]", problems)
        return
    if kind.startswith("map:"):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object {{...}}, got {_describe(value)}")
            return
        for key, item in value.items():
            _check(item, kind[4:], f"{path}.{key}", problems)
        return
    if kind in _RECORDS:
        _check_record(value, _RECORDS[kind], path, problems)
        return
    valid = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": _is_number(value),
        "bool": isinstance(value, bool),
        "id": isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)),
        "size": isinstance(value, list) and len(value) == 2 and all(isinstance(item, int) and not isinstance(item, bool) for item in value),
        "point": isinstance(value, list) and len(value) == 2 and all(_is_number(item) for item in value),
        "any": True,
    }[kind]
    if not valid:
        problems.append(f"{path}: expected {_EXPECTED[kind]}, got {_describe(value)}")


def _check_record(value: Any, record: dict[str, _Field], path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object {{...}}, got {_describe(value)}")
        return
    for key, field in record.items():
        where = f"{path}.{key}" if path else key
        if key not in value:
            if field.required:
                problems.append(f"{where}: missing")
            continue
        if value[key] is None and field.nullable:
            continue
        _check(value[key], field.kind, where, problems)


def read_results_file(path: Path) -> RunResults:
    """The run in a results JSON, every field checked first.

    Raises:
        ResultsError: unreadable, not UTF-8, not JSON, or a field of the wrong type; the message names the file
            and each field path with what was expected.
    """
    from gradcam_audit.core.ledger.run_results import RunResults
    from gradcam_audit.core.records.results import read_json_file

    data = read_json_file(path)  # bounded size and depth, strict numbers: one reader for results and baselines
    if not isinstance(data, dict) or "cases" not in data:
        found = "an object without 'cases'" if isinstance(data, dict) else f"{_describe(data)} at the top"
        raise ResultsError(f"{path}: not a gradcam_audit results file (no 'cases' key; found {found}); "
                           "give the results.json a run wrote")
    problems: list[str] = []
    _check_record(data, _RUN, "", problems)
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems[:_LISTED_PROBLEMS])
        more = f"\n  ... and {len(problems) - _LISTED_PROBLEMS} more" if len(problems) > _LISTED_PROBLEMS else ""
        raise ResultsError(f"{path}: not a valid gradcam_audit results file ({len(problems)} problem(s)):\n{listed}{more}\n"
                           "  fix: give the results.json a run wrote (pytest --gradcam-report / --gradcam-json), unedited")
    try:
        return RunResults.from_dict(data, str(path))
    except ResultsError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as error:  # a field this check does not know yet
        raise ResultsError(f"{path}: a field has the wrong form ({type(error).__name__}: {error})") from None
