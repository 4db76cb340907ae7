"""What a segmentation or detection case explained, in words beside its pictures, and the legend of the two shapes drawn
there (formats the case's TaskTargetRecord; whether a detection matched was decided by the engine)."""

from __future__ import annotations

from dataclasses import dataclass

from gradcam_audit.core.records.task_target import TaskTargetRecord
from gradcam_audit.rendering.pictures.marks import TARGET_LABEL, detection_label


@dataclass(frozen=True)
class TaskKeyView:
    """One shape of the pictures' legend: the label drawn beside it, its kind (the CSS class) and what it is."""

    label: str
    kind: str  # "target" | "detection"
    words: str


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def box_text(box: tuple[float, float, float, float]) -> str:
    """A box as the spec writes it: [x0, y0, x1, y1], whole pixels without decimals."""
    return "[" + ", ".join(_number(value) for value in box) + "]"


def _probability(record: TaskTargetRecord) -> str:
    return f"p={record.probability:.2f}" if record.probability is not None else "p unknown"


def task_target_words(record: TaskTargetRecord | None) -> str:
    """One sentence: the class and pixels or box explained, and the detection matched (or the best one, or none)."""
    if record is None:
        return ""
    name = repr(record.class_name)
    if record.task == "segmentation":
        pixels = f"the {record.pixel_count} target pixels" if record.pixel_count is not None else "the target pixels"
        region = f" (region {record.region!r})" if record.region else ""
        return f"Explained: class {name} summed over {pixels}{region}; mean {_probability(record)}."
    target = f"Explained: class {name} in the target box {box_text(record.box)}" if record.box is not None else f"Explained: class {name}"
    if record.matched and record.detection_box is not None:
        return (f"{target}; matched detection box {box_text(record.detection_box)} IoU {record.iou or 0.0:.2f}, "
                f"{_probability(record)}.")
    needed = f" (match_iou {record.match_iou:g})" if record.match_iou is not None else ""
    if record.detection_box is None:
        return f"{target}; no detection matched: the detector had no confident candidate{needed}."
    return (f"{target}; no detection matched: best IoU {max(record.iou or 0.0, 0.0):.2f}{needed}, "
            f"box {box_text(record.detection_box)}.")


def task_keys(record: TaskTargetRecord | None) -> tuple[TaskKeyView, ...]:
    """The legend of the shapes drawn for the task, labelled as in the pictures (rendering/pictures/marks.py)."""
    if record is None:
        return ()
    what = "the target pixels explained" if record.task == "segmentation" else "the target box a detection had to match"
    keys = [TaskKeyView(TARGET_LABEL, "target", f"dashed white outline: {what} (class {record.class_name!r})")]
    if record.task == "detection" and record.detection_box is not None:
        words = ("solid magenta box: the matched detection, its probability beside it" if record.matched
                 else "solid magenta box: the best candidate, which did not match; its IoU beside it")
        keys.append(TaskKeyView(detection_label(record), "detection", words))
    return tuple(keys)
