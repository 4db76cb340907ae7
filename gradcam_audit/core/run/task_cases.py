"""A spec's task as the engine needs it: the task head (with a detector's decoder) and each case's pixels or box."""

from __future__ import annotations

import math
from typing import Any

from gradcam_audit.core.engine.detections import load_decoder
from gradcam_audit.core.engine.targets import BoxTarget, DetectionHead, PixelTarget, SegmentationHead, TaskHead, TaskTarget
from gradcam_audit.core.evaluate.regions import region_mask, region_outline
from gradcam_audit.core.records.task_target import TaskTargetRecord
from gradcam_audit.core.spec.model import Case, Spec
from gradcam_audit.errors import ModelError


def task_head(spec: Spec, model: Any) -> TaskHead | None:
    """None for a classifier; the segmentation head; or the detection head with the spec's decoder loaded."""
    if spec.task == "segmentation":
        return SegmentationHead()
    if spec.task == "detection":
        if spec.detections is None:
            raise ModelError("`task: detection` needs `detections:` (keras_hub, or module:function)")
        return DetectionHead(load_decoder(spec.detections, model, spec.path.parent), spec.detections)
    return None


def case_task_target(case: Case, size: tuple[int, int], spec: Spec) -> TaskTarget | None:
    """The case's target on an image of ``size`` = (width, height): its pixels (segmentation) or its box (detection)."""
    if spec.task == "classification" or case.target_shape is None:
        return None
    if spec.task == "detection":
        box = case.target_shape.box
        if box is None:
            raise ModelError(f"case {case.id!r}: a detection target needs a box")
        return BoxTarget(box, case.match_iou)
    mask = region_mask(case.target_shape, size)
    if not mask.any():
        raise ModelError(f"case {case.id!r}: the target's pixels lie outside the {size[0]}×{size[1]} image")
    return PixelTarget(mask)


def task_notes(explanation: Any, spec: Spec) -> tuple[str, ...]:
    """What a segmentation / detection case explained, for the report beside the picture: the pixels, or the matched box."""
    target = explanation.task_target
    name = spec.label_of(explanation.target_index) or str(explanation.target_index)
    probability = float(explanation.probabilities[explanation.target_index])
    if isinstance(target, PixelTarget):
        return (f"segmentation target: class {name!r} summed over {int(target.mask.sum())} image pixels; mean p({name}) = {probability:.3f}",)
    match = explanation.detection
    if match is None:
        return ()
    box = ", ".join(f"{value:.1f}" for value in match.box)
    return (f"detection target: candidate #{match.candidate}, box [{box}], IoU {max(match.iou, 0.0):.2f} with the target box; "
            f"p({name}) = {probability:.3f}",)


def task_target_record(explanation: Any, case: Case, spec: Spec) -> TaskTargetRecord | None:
    """What a segmentation / detection case explained, for drawing on its pictures: the pixels' outline, or the target box
    and the candidate the engine matched (None for a classifier). Copied from the engine's Explanation; nothing decided here."""
    target = explanation.task_target
    if target is None:
        return None
    index = int(explanation.target_index)
    probability = float(explanation.probabilities[index])
    common: dict[str, Any] = {"class_index": index, "class_label": spec.label_of(index),
                              "probability": probability if math.isfinite(probability) else None}
    if isinstance(target, PixelTarget):
        shape = case.target_shape
        outline = region_outline(shape, explanation.geometry.original_size, target.mask) if shape is not None else ()
        region = next((region.name for region in case.regions if region.shape == shape), None)
        return TaskTargetRecord("segmentation", **common, outline=tuple((float(x), float(y)) for x, y in outline), region=region,
                                pixel_count=int(target.mask.sum()))
    x0, y0, x1, y1 = (float(value) for value in target.box)
    match = explanation.detection
    # With no confident candidate the engine's "best" candidate is an arbitrary one: its box and IoU mean nothing.
    known = match is not None and match.confident > 0
    return TaskTargetRecord("detection", **common, outline=((x0, y0), (x1, y0), (x1, y1), (x0, y1)), box=(x0, y0, x1, y1),
                            match_iou=float(target.match_iou), detection_box=match.box if known else None,
                            candidate=match.candidate if known else None, iou=match.iou if known else None,
                            matched=bool(match is not None and match.matched))
