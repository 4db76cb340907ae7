"""Shapes drawn on a case's pictures with a label beside each: the regions (numbered) and, for a segmentation or
detection case, the target it explained and the detection the engine matched (formatted from the record only)."""

from __future__ import annotations

from dataclasses import dataclass

from gradcam_audit.core.records.task_target import TaskTargetRecord

TARGET_COLOUR = (255, 255, 255)  # white, dashed: the pixels or box explained (jet, the default colormap, has no white)
DETECTION_COLOUR = (213, 0, 249)  # magenta, solid: the matched detection (no region role and no jet colour is magenta)
TARGET_LABEL = "target"


@dataclass(frozen=True)
class Mark:
    """One shape to draw: its polygon in the picture's pixels, how, and the short label placed beside it."""

    points: tuple[tuple[float, float], ...]
    colour: tuple[int, int, int]
    dashed: bool
    label: str
    label_text_colour: tuple[int, int, int] = (255, 255, 255)


def _corners(box: tuple[float, float, float, float], factor_x: float, factor_y: float) -> tuple[tuple[float, float], ...]:
    x0, y0, x1, y1 = box
    return ((x0 * factor_x, y0 * factor_y), (x1 * factor_x, y0 * factor_y), (x1 * factor_x, y1 * factor_y), (x0 * factor_x, y1 * factor_y))


def detection_label(record: TaskTargetRecord) -> str:
    """The label beside the detection's box: its probability when it matched, else its IoU (the best candidate's)."""
    if record.matched and record.probability is not None:
        return f"p {record.probability:.2f}"
    return f"IoU {max(record.iou or 0.0, 0.0):.2f}"


def task_marks(record: TaskTargetRecord | None, factor_x: float, factor_y: float) -> list[Mark]:
    """The target (dashed) and the matched detection's box (solid, its score beside it), scaled to the picture; [] without a record."""
    if record is None:
        return []
    marks = []
    if len(record.outline) >= 3:
        marks.append(Mark(tuple((x * factor_x, y * factor_y) for x, y in record.outline), TARGET_COLOUR, True, TARGET_LABEL, (0, 0, 0)))
    if record.task == "detection" and record.detection_box is not None:
        marks.append(Mark(_corners(record.detection_box, factor_x, factor_y), DETECTION_COLOUR, False, detection_label(record)))
    return marks
