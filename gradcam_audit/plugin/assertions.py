"""`assert_attention`: assert where a model looks from a plain Python test, with the spec's failure table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gradcam_audit.core.evaluate.causal import measure_effects
from gradcam_audit.core.evaluate.faithfulness import measure_faithfulness
from gradcam_audit.core.engine.explain import explain, resolve_target
from gradcam_audit.core.files.images import read_rgb
from gradcam_audit.core.engine.method_names import RESIZE_FILTERS
from gradcam_audit.core.evaluate.removal import REMOVAL_MODES
from gradcam_audit.core.evaluate.metrics import REGION_METRICS
from gradcam_audit.core.evaluate.case_evaluation import evaluate_case
from gradcam_audit.core.ledger.entries import CaseEntry
from gradcam_audit.core.ledger.judging import final_case_status
from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.core.run.case_results import computed_result
from gradcam_audit.core.jobs import CaseJob
from gradcam_audit.core.spec.model import Case, ModelRef, Preprocess, Region, Shape, Spec
from gradcam_audit.errors import GradcamAuditError
from gradcam_audit.rendering.text.text_table import failure_text


class AttentionAssertionError(AssertionError):
    """The model did not look where the test said it should (message: the readable table)."""


def _preprocess(value: Preprocess | str) -> Preprocess:
    if isinstance(value, Preprocess):
        return value
    from gradcam_audit.core.engine.method_names import PREPROCESS_FAMILIES

    return Preprocess("family" if value in PREPROCESS_FAMILIES else "builtin", value)


def assert_attention(
    model: Any,
    image: Any,
    *,
    box: tuple[float, float, float, float] | None = None,
    polygon: list[tuple[float, float]] | None = None,
    name: str = "region",
    min_mass: float | None = None,
    max_mass: float | None = None,
    min_lift: float | None = None,
    peak_inside: bool = False,
    max_effect: float | None = None,
    min_effect: float | None = None,
    removal: str = "inpaint",
    max_deletion_auc: float | None = None,
    min_insertion_auc: float | None = None,
    faithfulness_steps: int = 10,
    target: str | int | None = None,
    expect_class: str | int | None = None,
    labels: list[str] | None = None,
    layer: str = "auto",
    method: str = "gradcam",
    preprocess: Preprocess | str = "none",
    resize: str = "stretch",
    resize_filter: str = "bilinear",
    thresholds: Mapping[str, float | bool] | None = None,
) -> CaseResult:
    """Explain one image and assert the heatmap's mass in one region; returns the result when it passes.

    ``box`` is [x_min, y_min, x_max, y_max] in pixels of ``image`` (an (H, W, C) 0–255 array or a path).
    ``max_effect`` / ``min_effect`` check how much removing the region (``removal``: inpaint, mean, blur, noise)
    lowers the explained class's probability (one extra forward pass). ``thresholds`` sets any region metric's keys
    by their spec names (``{"min_iou": 0.3, "iou_threshold": 0.4}``, or a registered metric's), as a region would.

    Raises:
        AttentionAssertionError: a threshold was missed; the message is the same table a spec failure prints.
        GradcamAuditError: bad arguments (no threshold, unknown class, ...).
    """
    __tracebackhide__ = True
    if (box is None) == (polygon is None):
        raise GradcamAuditError("assert_attention needs exactly one of box=[x_min, y_min, x_max, y_max] or polygon=[[x, y], ...]")
    known_keys = [key.name for key in REGION_METRICS.spec_keys()]
    unknown = [key for key in thresholds or {} if key not in known_keys]
    if unknown:
        raise GradcamAuditError(f"assert_attention: unknown threshold {unknown[0]!r} in thresholds=; expected one of {', '.join(known_keys)}")
    limits: dict[str, float | bool | None] = {"min_mass": min_mass, "max_mass": max_mass, "min_lift": min_lift, "peak_inside": peak_inside,
                                              "max_effect": max_effect, "min_effect": min_effect, **(thresholds or {})}
    if (not any(limits.get(metric.threshold_key) not in (None, False) for metric in REGION_METRICS)
            and max_deletion_auc is None and min_insertion_auc is None):
        raise GradcamAuditError("assert_attention needs a threshold: min_mass, max_mass, min_lift, peak_inside=True, max_effect, "
                                "min_effect, max_deletion_auc, min_insertion_auc or a region metric's key in thresholds=")
    if isinstance(faithfulness_steps, bool) or not isinstance(faithfulness_steps, int) or not 1 <= faithfulness_steps <= 100:
        raise GradcamAuditError(f"assert_attention: faithfulness_steps must be a whole number from 1 to 100, got {faithfulness_steps!r}")
    if resize_filter not in RESIZE_FILTERS:
        raise GradcamAuditError(f"assert_attention: unknown resize_filter {resize_filter!r}; expected one of {', '.join(RESIZE_FILTERS)}")
    if removal not in REMOVAL_MODES:
        raise GradcamAuditError(f"assert_attention: unknown removal {removal!r}; expected one of {', '.join(REMOVAL_MODES)}")
    shape = Shape("box", box=tuple(float(v) for v in box)) if box is not None else Shape(  # type: ignore[arg-type]
        "polygon", polygon=tuple((float(x), float(y)) for x, y in polygon or [])
    )
    for reference in (target, expect_class):
        if reference is not None:
            resolve_target(reference, labels)  # a clear ModelError (with did-you-mean), not an AssertionError
    region = Region(name=name, shape=shape, thresholds=limits, removal=removal)
    label_tuple = tuple(labels) if labels is not None else None
    spec = Spec(path=Path("<assert_attention>"), model=ModelRef(Path("<in-memory model>")), labels=label_tuple, layer=layer,
                methods=(method,), preprocess=_preprocess(preprocess), resize=resize,
                resize_filter=resize_filter)
    case = Case(id=name, image=Path(str(image)) if isinstance(image, (str, Path)) else Path("<array>"), regions=(region,),
                target=target, expect_class=expect_class, max_deletion_auc=max_deletion_auc, min_insertion_auc=min_insertion_auc,
                faithfulness_steps=faithfulness_steps)
    (explanation,) = explain(model, [image], layer=layer, targets=target, method=method, labels=labels,
                             preprocess=spec.preprocess, resize=resize, resize_filter=resize_filter)
    effects = None
    curves = None
    if case.has_faithfulness_check or region.has_effect_check:  # the edited images start from the original pixels
        picture = read_rgb(Path(image), 3) if isinstance(image, (str, Path)) else np.asarray(image)
        picture = (picture[:, :, np.newaxis] if picture.ndim == 2 else picture).astype(np.uint8)
    if case.has_faithfulness_check and explanation.degenerate is None:
        (curves,) = measure_faithfulness(model, spec, [case], [picture], [explanation.heatmap_full], [explanation.target_index],
                                         [float(explanation.probabilities[explanation.target_index])], layer=layer)
    if region.has_effect_check:
        (measured,) = measure_effects(model, spec, [case], [picture], [explanation.target_index],
                                      [float(explanation.probabilities[explanation.target_index])], layer=layer)
        if measured.error is not None:
            raise GradcamAuditError(measured.error)
        effects = measured.effects
    verdict = evaluate_case(spec, case, explanation, effects, curves)
    result = computed_result(CaseJob(spec, case, explanation.method), explanation, verdict, None, curves)
    status, extra = final_case_status(result.verdict, None)
    if status != "passed":
        entry = CaseEntry(spec=result.spec, id=name, method=result.method, status=status, reason=extra or result.reason, result=result)
        raise AttentionAssertionError("attention check failed\n" + failure_text(entry))
    return result
