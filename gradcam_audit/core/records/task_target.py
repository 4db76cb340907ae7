"""What a segmentation or detection case explained, as its result carries it: the target's pixels or box and the matched
detection, so the report can draw them on the case's pictures and say them in words (no verdict is decided from it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gradcam_audit.errors import ResultsError

TARGET_TASKS = ("segmentation", "detection")


def _box(value: Any, field: str) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise ResultsError(f"task_target.{field} must be a box [x0, y0, x1, y1], got {value!r}")
    return (float(value[0]), float(value[1]), float(value[2]), float(value[3]))


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


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

    @property
    def class_name(self) -> str:
        """The label, or "class N" when the spec gave no labels."""
        return self.class_label if self.class_label is not None else f"class {self.class_index}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "class_index": self.class_index,
            "class_label": self.class_label,
            "probability": self.probability,
            "outline": [list(point) for point in self.outline],
            "region": self.region,
            "pixel_count": self.pixel_count,
            "box": list(self.box) if self.box is not None else None,
            "match_iou": self.match_iou,
            "detection_box": list(self.detection_box) if self.detection_box is not None else None,
            "candidate": self.candidate,
            "iou": self.iou,
            "matched": self.matched,
        }

    @staticmethod
    def from_dict(data: Any) -> TaskTargetRecord | None:
        if data is None:
            return None
        if not isinstance(data, dict) or data.get("task") not in TARGET_TASKS:
            found = data.get("task") if isinstance(data, dict) else type(data).__name__
            raise ResultsError(f"task_target.task must be one of {', '.join(TARGET_TASKS)}, got {found!r}")
        pixel_count, candidate, matched = data.get("pixel_count"), data.get("candidate"), data.get("matched")
        return TaskTargetRecord(
            task=str(data["task"]),
            class_index=int(data["class_index"]),
            class_label=None if data.get("class_label") is None else str(data["class_label"]),
            probability=_optional_float(data.get("probability")),
            outline=tuple((float(x), float(y)) for x, y in data.get("outline", [])),
            region=None if data.get("region") is None else str(data["region"]),
            pixel_count=None if pixel_count is None else int(pixel_count),
            box=_box(data.get("box"), "box"),
            match_iou=_optional_float(data.get("match_iou")),
            detection_box=_box(data.get("detection_box"), "detection_box"),
            candidate=None if candidate is None else int(candidate),
            iou=_optional_float(data.get("iou")),
            matched=None if matched is None else bool(matched),
        )
