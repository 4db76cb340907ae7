"""One entry point for every supported export format."""

from __future__ import annotations

from pathlib import Path

from gradcam_audit.core.annotations.coco import read_coco
from gradcam_audit.core.annotations.labelme import read_labelme
from gradcam_audit.core.annotations.model import AnnotationSet
from gradcam_audit.core.annotations.voc import read_voc
from gradcam_audit.core.annotations.yolo import read_yolo

FORMATS: tuple[str, ...] = ("coco", "voc", "yolo", "labelme")


def read_annotations(
    format_name: str, source: Path, *, images_dir: Path | None = None, classes: Path | None = None, clip: bool = False
) -> AnnotationSet:
    """Read an export of ``format_name`` (one of FORMATS) into our box convention.

    Raises:
        AnnotationError: every problem in the export, each naming its file and entry.
        ValueError: an unknown format name (a programming error: the CLI only offers FORMATS).
    """
    if format_name == "coco":
        return read_coco(source, images_dir=images_dir, clip=clip)
    if format_name == "voc":
        return read_voc(source, images_dir=images_dir, clip=clip)
    if format_name == "yolo":
        return read_yolo(source, classes=classes, images_dir=images_dir, clip=clip)
    if format_name == "labelme":
        return read_labelme(source, images_dir=images_dir, clip=clip)
    raise ValueError(f"unknown annotation format {format_name!r}; expected one of {', '.join(FORMATS)}")
