"""The JSON Schema of results.json (schema 2), generated from the record types' fields, annotations and JSON forms.

Run ``python -m gradcam_audit.core.ledger.schema`` to rewrite ``gradcam_audit/schema/results.schema.json``.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradcam_audit.core.records.comparison import (
    COMPARISON_STATUSES,
    BaselineComparison,
    BaselineSummary,
    BaselineTally,
    CaseRules,
    CompactHeatmap,
    MetricDelta,
    RegionRules,
    RemovedCase,
)
from gradcam_audit.core.evaluate.causal import CascadeStage, TransplantPair
from gradcam_audit.core.records.checks import COMPARISONS, Check
from gradcam_audit.core.records.codec import json_form
from gradcam_audit.core.records.evidence import FaithfulnessCurves
from gradcam_audit.core.evaluate.gates import GateResult
from gradcam_audit.core.ledger.entries import NOT_RUN_CAUSES, STATUSES, CaseEntry, GateEntry
from gradcam_audit.core.ledger.run_results import RUN_VERDICTS, SCHEMA_VERSION, RunResults
from gradcam_audit.core.evaluate.outside_findings import Finding
from gradcam_audit.core.records.evidence import Hotspot, OutsideSweep
from gradcam_audit.core.records.results import CaseResult, ClassInfo
from gradcam_audit.core.records.regions import RegionScore
from gradcam_audit.core.records.task_target import TARGET_TASKS, TaskTargetRecord
from gradcam_audit.schema import RESULTS_SCHEMA_PATH

__all__ = ["RESULTS_SCHEMA_PATH", "RecordShape", "record_schema", "results_schema", "schema_text", "write_schema"]

COMPUTED_VERDICTS = ("passed", "failed", "error")
REGION_ROLES = ("required", "forbidden", "check")
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_NUMBER = {"type": "number"}


def _enum(values: typing.Iterable[str]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


@dataclass(frozen=True)
class RecordShape:
    """What the schema says of a record beyond its fields and its JSON form (core/records/codec.py: renamed, dropped,
    omitted keys and the written order come from there).

    ``derived``: the schemas of the keys the form derives from the record (and of a flattened record's keys);
    ``overrides``: a stricter schema than the annotation gives (enumerated statuses); ``open``: unknown keys allowed
    (see the docs page).
    """

    derived: dict[str, dict[str, Any]] = field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    open: bool = False


_COUNTS = {"type": "object", "properties": {status: {"type": "integer", "minimum": 1} for status in STATUSES},
           "additionalProperties": False}

# Every record written into results.json, in the order of the schema's $defs. RegionEffect is flattened into its
# region (RegionScore.JSON_FORM), so it has no definition of its own.
RECORDS: dict[type, RecordShape] = {
    RunResults: RecordShape(
        derived={"schema": {"const": SCHEMA_VERSION}, "verdict": _enum(RUN_VERDICTS), "complete": {"type": "boolean"},
                 "incomplete_reasons": {"type": "array", "items": {"type": "string"}}, "counts": _COUNTS, "gate_counts": _COUNTS,
                 "baseline_counts": {"$ref": "#/$defs/BaselineTally"}},
        overrides={"baseline": {"$ref": "#/$defs/BaselineSummary"}},
    ),
    CaseEntry: RecordShape(overrides={
        "status": _enum(STATUSES), "cause": _enum(("", *NOT_RUN_CAUSES)), "baseline": {"$ref": "#/$defs/BaselineComparison"}}),
    GateEntry: RecordShape(overrides={"status": _enum(STATUSES), "cause": _enum(("", *NOT_RUN_CAUSES))}),
    CaseResult: RecordShape(open=True, overrides={"verdict": _enum(COMPUTED_VERDICTS)}),
    ClassInfo: RecordShape(),
    RegionScore: RecordShape(
        derived={"passed": {"type": "boolean"}, "effect": _NUMBER, "removal": {"type": "string"},
                 "probability_before": _NUMBER, "probability_after": _NUMBER},
        overrides={"role": _enum(REGION_ROLES)},
    ),
    Check: RecordShape(overrides={"comparison": _enum(COMPARISONS)}),
    FaithfulnessCurves: RecordShape(derived={"deletion_auc": _NUMBER, "insertion_auc": _NUMBER}),
    CompactHeatmap: RecordShape(),
    CaseRules: RecordShape(overrides={"regions": {"type": "object", "additionalProperties": {"$ref": "#/$defs/RegionRules"}}}),
    RegionRules: RecordShape(),
    BaselineComparison: RecordShape(overrides={"status": _enum(COMPARISON_STATUSES)}),
    MetricDelta: RecordShape(),
    BaselineSummary: RecordShape(),
    RemovedCase: RecordShape(),
    BaselineTally: RecordShape(),
    GateResult: RecordShape(overrides={"status": _enum(COMPUTED_VERDICTS)}),
    TransplantPair: RecordShape(derived={"flipped": {"type": "boolean"}}),
    CascadeStage: RecordShape(),
    OutsideSweep: RecordShape(),
    Hotspot: RecordShape(),
    Finding: RecordShape(derived={"sentence": {"type": "string"}}),
    TaskTargetRecord: RecordShape(overrides={"task": _enum(TARGET_TASKS)}),
}


def _annotation_schema(annotation: Any) -> dict[str, Any]:
    """The JSON Schema of a field's type as the codec writes it (tuples become arrays, records $refs)."""
    if annotation is Any:
        return {}
    if annotation is type(None):
        return {"type": "null"}
    if annotation is bool:
        return {"type": "boolean"}
    if annotation is int:
        return {"type": "integer"}
    if annotation is float:
        return dict(_NUMBER)  # strict JSON: never NaN or Infinity (the writer refuses them)
    if annotation is str:
        return {"type": "string"}
    if dataclasses.is_dataclass(annotation):
        if annotation not in RECORDS:
            raise TypeError(f"{annotation!r} is written into results.json but has no RecordShape in RECORDS")
        return {"$ref": f"#/$defs/{annotation.__name__}"}
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        choices = [_annotation_schema(argument) for argument in arguments]
        if all(set(choice) == {"type"} for choice in choices):
            return {"type": [choice["type"] for choice in choices]}
        return {"anyOf": choices}
    if origin is tuple:
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return {"type": "array", "items": _annotation_schema(arguments[0])}
        return {"type": "array", "prefixItems": [_annotation_schema(argument) for argument in arguments],
                "minItems": len(arguments), "maxItems": len(arguments)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _annotation_schema(arguments[1])}
    raise TypeError(f"no JSON Schema for the annotation {annotation!r}: add an override in RECORDS")


def record_schema(record: type) -> dict[str, Any]:
    """One record's object schema: its fields as its JSON form writes them (renamed, dropped, overridden as its
    RecordShape says), then its derived and constant keys; keys the form omits sometimes are optional."""
    shape, form = RECORDS[record], json_form(record)
    hints = typing.get_type_hints(record)
    properties: dict[str, Any] = {}
    for record_field in dataclasses.fields(record):
        if record_field.name in form.dropped or record_field.name == form.flattened:
            continue
        key = form.renamed.get(record_field.name, record_field.name)
        properties[key] = shape.overrides.get(key) or _annotation_schema(hints[record_field.name])
    flattened: set[str] = set()
    if form.flattened is not None:
        inner = next(argument for argument in typing.get_args(hints[form.flattened]) if argument is not type(None))
        flattened = {item.name for item in dataclasses.fields(inner)} | set(json_form(inner).derived)
    unspecified = (set(form.derived) | flattened) - set(shape.derived)
    if unspecified:
        raise TypeError(f"{record.__name__} writes {sorted(unspecified)} (its JSON_FORM) with no schema in RECORDS")
    properties.update(shape.derived)
    properties.update({key: {"const": value} for key, value in form.constants.items() if key not in properties})
    optional = set(form.omitted) | flattened
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": [key for key in properties if key not in optional],
                              "additionalProperties": shape.open}
    if record.__doc__:
        schema["description"] = " ".join(record.__doc__.strip().split("\n\n")[0].split())
    return schema


def results_schema() -> dict[str, Any]:
    """The whole schema: the top level is a RunResults document; every other record is a $def."""
    top = record_schema(RunResults)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:gradcam-audit:results",
        "title": f"gradcam_audit results.json (schema {SCHEMA_VERSION})",
        "description": ("The document a gradcam_audit run writes (core/ledger/run_results.py, RunResults, through core/records/codec.py). "
                        "Strict JSON: numbers are finite (never NaN or Infinity). Unknown keys are refused everywhere except in a case's `result` "
                        "object, where later versions may add optional keys. Generated by gradcam_audit.core.ledger.schema."),
        **{key: value for key, value in top.items() if key != "description"},
        "$defs": {record.__name__: record_schema(record) for record in RECORDS if record is not RunResults},
    }


def schema_text() -> str:
    """The schema as the shipped file holds it (stable key order, UTF-8, trailing newline)."""
    return json.dumps(results_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema() -> Path:
    RESULTS_SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    return RESULTS_SCHEMA_PATH


if __name__ == "__main__":
    print(write_schema())
