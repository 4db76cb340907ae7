"""Reading labelling-tool exports (COCO, Pascal VOC, YOLO, labelme) and turning them into spec files."""

from __future__ import annotations

from gradcam_audit.core.annotations.build import ImportOptions, ImportPlan, plan_import
from gradcam_audit.core.annotations.errors import AnnotationError
from gradcam_audit.core.annotations.model import AnnotatedImage, AnnotatedObject, AnnotationSet
from gradcam_audit.core.annotations.readers import FORMATS, read_annotations
from gradcam_audit.core.annotations.writing import Provenance, render_spec, write_spec

__all__ = [
    "FORMATS",
    "AnnotatedImage",
    "AnnotatedObject",
    "AnnotationError",
    "AnnotationSet",
    "ImportOptions",
    "ImportPlan",
    "Provenance",
    "plan_import",
    "read_annotations",
    "render_spec",
    "write_spec",
]
