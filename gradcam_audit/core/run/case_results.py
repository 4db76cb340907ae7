"""Assembling a case's result record from its job, its explanation and its verdict."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from gradcam_audit.core.engine.explain import Explanation
from gradcam_audit.core.evaluate.case_evaluation import Verdict, class_index
from gradcam_audit.core.records.evidence import FaithfulnessCurves
from gradcam_audit.core.records.comparison import CompactHeatmap
from gradcam_audit.core.records.results import CaseResult, ClassInfo
from gradcam_audit.core.jobs import CaseJob
from gradcam_audit.core.run.task_cases import task_notes, task_target_record
from gradcam_audit.core.spec.load import display_path
from gradcam_audit.core.spec.model import Spec


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _class_info(spec: Spec, index: int, explanation: Explanation | None = None) -> ClassInfo:
    if explanation is None:
        return ClassInfo(index, spec.label_of(index))
    return ClassInfo(index, spec.label_of(index), score=_finite(explanation.probabilities[index]), logit=_finite(explanation.scores[index]))


def base_result(job: CaseJob, verdict: str, reason: str) -> CaseResult:
    """The part of a case's result known before (or without) computing it."""
    spec, case = job.spec, job.case
    return CaseResult(
        spec=display_path(spec.path),
        id=case.id,
        method=job.method,
        verdict=verdict,
        reason=reason,
        image=display_path(case.image),
        model=display_path(spec.model.path),
        preprocess=spec.engine.preprocess.describe(),
        resize=spec.engine.resize,
        resize_filter=spec.engine.resize_filter,
        expect_class=_class_info(spec, class_index(case.expect_class, spec.labels)) if case.expect_class is not None else None,
    )


def computed_result(job: CaseJob, explanation: Explanation, verdict: Verdict, model_sha256: str | None,
                    faithfulness: FaithfulnessCurves | None = None) -> CaseResult:
    """The result of a computed case: its verdict with what produced it (layer, method, classes, regions)."""
    return replace(
        base_result(job, verdict.status, verdict.reason),
        layer=explanation.layer,
        layer_reason=explanation.layer_reason,
        score_kind=explanation.score_kind,
        predicted=_class_info(job.spec, explanation.predicted_index, explanation),
        target=_class_info(job.spec, explanation.target_index, explanation),
        regions=verdict.regions,
        checks=verdict.checks,
        degenerate=explanation.degenerate,
        image_size=explanation.geometry.original_size,
        model_sha256=model_sha256,
        # Kept compactly (8-bit, at the layer's resolution) so a later run can be compared without this model.
        heatmap=CompactHeatmap.encode(explanation.heatmap) if explanation.degenerate is None else None,
        notes=explanation.warnings + task_notes(explanation, job.spec),
        faithfulness=faithfulness,
        task_target=task_target_record(explanation, job.case, job.spec),
    )
