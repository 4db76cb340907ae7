"""Computational results of one case, and strict-JSON helpers shared by every results file.

A `CaseResult` holds only what the numbers say (the computed verdict, region checks, classes). What pytest
reported, where pictures were written and the final status live beside it, in the ledger (`core/ledger/entries.py`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradcam_audit.core.records.comparison import BaselineComparison, CaseRules, CompactHeatmap
from gradcam_audit.core.records.checks import Check
from gradcam_audit.core.evaluate.faithfulness import FaithfulnessCurves
from gradcam_audit.core.files.json_input import parse_json_text, read_json
from gradcam_audit.core.evaluate.outside_sweep import OutsideSweep
from gradcam_audit.core.evaluate.scoring import RegionScore
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

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "label": self.label, "score": self.score, "logit": self.logit}

    @staticmethod
    def from_dict(data: Any) -> ClassInfo | None:
        if data is None:
            return None
        return ClassInfo(index=int(data["index"]), label=None if data.get("label") is None else str(data["label"]),
                         score=_optional_float(data.get("score")), logit=_optional_float(data.get("logit")))


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "id": self.id,
            "method": self.method,
            "verdict": self.verdict,
            "reason": self.reason,
            "layer": self.layer,
            "layer_reason": self.layer_reason,
            "score_kind": self.score_kind,
            "predicted": self.predicted.to_dict() if self.predicted else None,
            "target": self.target.to_dict() if self.target else None,
            "expect_class": self.expect_class.to_dict() if self.expect_class else None,
            "regions": [region.to_dict() for region in self.regions],
            "checks": [check.to_dict() for check in self.checks],
            "degenerate": self.degenerate,
            "image": self.image,
            "image_size": list(self.image_size) if self.image_size else None,
            "model": self.model,
            "model_sha256": self.model_sha256,
            "preprocess": self.preprocess,
            "resize": self.resize,
            "resize_filter": self.resize_filter,
            "heatmap": self.heatmap.to_dict() if self.heatmap is not None else None,
            "baseline_rules": self.baseline_rules.to_dict() if self.baseline_rules is not None else None,
            "baseline": self.baseline.to_dict() if self.baseline is not None else None,
            "notes": list(self.notes),
            "faithfulness": self.faithfulness.to_dict() if self.faithfulness is not None else None,
            **({"outside": self.outside.to_dict()} if self.outside is not None else {}),
            **({"task_target": self.task_target.to_dict()} if self.task_target is not None else {}),
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> CaseResult:
        size = data.get("image_size")
        return CaseResult(
            spec=str(data["spec"]),
            id=str(data["id"]),
            method=str(data["method"]),
            verdict=str(data["verdict"]),
            reason=str(data.get("reason", "")),
            layer=data.get("layer"),
            layer_reason=data.get("layer_reason"),
            score_kind=data.get("score_kind"),
            predicted=ClassInfo.from_dict(data.get("predicted")),
            target=ClassInfo.from_dict(data.get("target")),
            expect_class=ClassInfo.from_dict(data.get("expect_class")),
            regions=tuple(RegionScore.from_dict(region) for region in data.get("regions", [])),
            checks=tuple(Check.from_dict(check) for check in data.get("checks", [])),
            degenerate=data.get("degenerate"),
            image=data.get("image"),
            image_size=(int(size[0]), int(size[1])) if size else None,
            model=data.get("model"),
            model_sha256=data.get("model_sha256"),
            preprocess=data.get("preprocess"),
            resize=data.get("resize"),
            resize_filter=data.get("resize_filter"),
            heatmap=CompactHeatmap.from_dict(data.get("heatmap")),
            baseline_rules=CaseRules.from_dict(data.get("baseline_rules")),
            baseline=BaselineComparison.from_dict(data.get("baseline")),
            notes=tuple(str(note) for note in data.get("notes", ())),
            faithfulness=FaithfulnessCurves.from_dict(data["faithfulness"]) if data.get("faithfulness") else None,
            outside=OutsideSweep.from_dict(data.get("outside")),
            task_target=TaskTargetRecord.from_dict(data.get("task_target")),
        )


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
