"""Computational results of one case, and strict-JSON helpers shared by every results file.

A `CaseResult` holds only what the numbers say (the computed verdict, region checks, classes). What pytest
reported, where pictures were written and the final status live beside it, in the ledger (`core/ledger/entries.py`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from gradcam_audit.core.records.comparison import BaselineComparison, CaseRules, CompactHeatmap
from gradcam_audit.core.records.checks import Check
from gradcam_audit.core.records.codec import JsonForm
from gradcam_audit.core.records.evidence import FaithfulnessCurves
from gradcam_audit.core.files.json_input import parse_json_text, read_json
from gradcam_audit.core.records.evidence import OutsideSweep
from gradcam_audit.core.records.regions import RegionScore
from gradcam_audit.core.records.task_target import TaskTargetRecord
from gradcam_audit.errors import ResultsError


@dataclass(frozen=True)
class ClassInfo:
    """A class with, where known, its probability (``score``) and the raw score explained (``logit``)."""

    index: int
    label: str | None
    score: float | None = None
    logit: float | None = None

    @property
    def name(self) -> str:
        """The label, or "class N" when the spec gave no labels."""
        return self.label if self.label is not None else f"class {self.index}"


@dataclass(frozen=True)
class CaseResult:
    """One case computed with one method.

    ``verdict`` is what the numbers say: "passed", "failed" (a threshold missed, a degenerate heatmap) or
    "error" (the case could not be computed). The final status (xfailed, not run, ...) is the ledger's.
    """

    spec: str
    id: str
    method: str
    verdict: str
    reason: str = ""
    layer: str | None = None
    layer_reason: str | None = None
    score_kind: str | None = None
    predicted: ClassInfo | None = None
    target: ClassInfo | None = None
    expect_class: ClassInfo | None = None
    regions: tuple[RegionScore, ...] = ()
    checks: tuple[Check, ...] = ()  # case-level checks, e.g. the expected class
    degenerate: str | None = None
    image: str | None = None
    image_size: tuple[int, int] | None = None
    model: str | None = None
    model_sha256: str | None = None
    preprocess: str | None = None
    resize: str | None = None
    resize_filter: str | None = None
    # For comparisons with a later run (core/baseline/similarity.py): the map at the layer's resolution, 8-bit; the regression
    # rules that applied; and, when this run was compared with a baseline, what that found.
    heatmap: CompactHeatmap | None = None
    baseline_rules: CaseRules | None = None
    baseline: BaselineComparison | None = None
    # Why a scorable map may still not answer the question (the engine's Explanation.warnings), e.g. not class-discriminative.
    notes: tuple[str, ...] = ()
    # The deletion / insertion curves, where the case asked for them (max_deletion_auc / min_insertion_auc).
    faithfulness: FaithfulnessCurves | None = None
    # The cells outside the required regions removed one at a time, where the case asked (max_outside_effect).
    outside: OutsideSweep | None = None
    # A segmentation / detection case: the pixels or box explained and the matched detection, drawn on its pictures.
    task_target: TaskTargetRecord | None = None

    # "outside" is written only where the case asked for the sweep, "task_target" only for a segmentation / detection
    # case (files of earlier versions, and every classifier's, have no such key).
    JSON_FORM: ClassVar[JsonForm] = JsonForm(omitted={"outside": lambda result: result.outside is None,
                                                      "task_target": lambda result: result.task_target is None})


def finite_only(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, so the JSON written is strict (no NaN/Infinity).

    The core already turns non-finite model numbers into errors; this is the last guard for the file format.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_only(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_only(item) for item in value]
    return value


def dumps_strict(data: Any) -> str:
    """Strict JSON text (RFC 8259): never NaN or Infinity."""
    return json.dumps(finite_only(data), indent=2, ensure_ascii=False, allow_nan=False)


def loads_strict(text: str, source: str) -> Any:
    """Parse strict, bounded JSON (core/files/json_input.py); malformed text, NaN, Infinity, an overflowing number or too deep
    nesting is a ResultsError naming ``source`` and the field path."""
    return parse_json_text(text, source, ResultsError, "results files are strict JSON written by gradcam_audit")


def read_json_file(path: Path) -> Any:
    """A results file's parsed JSON, bounded in size and depth, numbers strict; a readable error for anything else."""
    if not path.exists():
        raise ResultsError(f"results file not found: {path}")
    if path.is_dir():
        raise ResultsError(f"{path} is a folder, not a results file: give the results.json inside it")
    return read_json(path, str(path), ResultsError, "give the results.json a run wrote (pytest --gradcam-report / --gradcam-json), unedited")
