"""What a segmentation or detection case explained, as its result carries it: the target's pixels or box and the matched
detection, so the report can draw them on the case's pictures and say them in words (no verdict is decided from it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from gradcam_audit.core.records.codec import JsonForm

TARGET_TASKS = ("segmentation", "detection")


@dataclass(frozen=True)
class TaskTargetRecord:
    """The target a segmentation / detection case explained, in original-image pixels.

    Attributes:
        task: "segmentation" or "detection".
        class_index / class_label: the class explained (its label, when the spec gave labels).
        probability: the class's probability the case used (segmentation: its mean over the target pixels; detection:
            the matched candidate's softmax), or None when not finite.
        outline: segmentation: the target pixels' outline to draw (a box's corners, the polygon, or a mask's bounding
            box); detection: the target box's corners.
        region: the case's region whose pixels are the target (segmentation `target: {region: ...}`), else None.
        pixel_count: segmentation: how many image pixels the target holds.
        box: detection: the box (x0, y0, x1, y1) a detection had to match.
        match_iou: detection: the IoU the match needed.
        detection_box: detection: the matched candidate's box, or when none matched the best confident candidate's;
            None when the detector had no confident candidate.
        candidate / iou: that candidate's index among the decoder's candidates and its IoU with ``box``.
        matched: detection: whether a confident candidate reached ``match_iou`` (decided by the engine).
    """

    task: str
    class_index: int
    class_label: str | None = None
    probability: float | None = None
    outline: tuple[tuple[float, float], ...] = ()
    region: str | None = None
    pixel_count: int | None = None
    box: tuple[float, float, float, float] | None = None
    match_iou: float | None = None
    detection_box: tuple[float, float, float, float] | None = None
    candidate: int | None = None
    iou: float | None = None
    matched: bool | None = None

    JSON_FORM: ClassVar[JsonForm] = JsonForm(choices={"task": TARGET_TASKS})

    @property
    def class_name(self) -> str:
        """The label, or "class N" when the spec gave no labels."""
        return self.class_label if self.class_label is not None else f"class {self.class_index}"
