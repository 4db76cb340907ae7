"""Pictures drawn from the compact heatmap a result carries, for cases whose picture files are gone (inline runs, shards).

Over the case's image when it is a picture inside its spec's folder (read through the picture door), else the heatmap
alone; never a file a results JSON names outside those bounds.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.errors import GradcamAuditError, UnsafePathError
from gradcam_audit.rendering.pictures.picture_door import bytes_data_uri, checked_picture

# The drawn heatmap alone is this many pixels on its longer side (it has no photo to match).
_HEATMAP_ONLY_SIDE = 320


def _spec_image(result: CaseResult, working_folder: Path) -> Path | None:
    """The case's image if the spec file exists inside ``working_folder`` and the image is a picture inside the spec's
    folder (both names come from an untrusted results file); else None."""
    if not result.image or not result.spec or "\x00" in result.image or "\x00" in result.spec:
        return None
    root = working_folder.resolve()
    spec = (root / result.spec).resolve()
    if not spec.is_relative_to(root) or not spec.is_file():
        return None
    image = (root / result.image).resolve()
    if not image.is_relative_to(spec.parent):
        return None
    try:
        return checked_picture(spec.parent, image.relative_to(spec.parent).as_posix())
    except UnsafePathError:
        return None


def _encode(picture: Any) -> str:
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format="PNG", optimize=True)
    return bytes_data_uri(buffer.getvalue())


def _heatmap_alone(heatmap: np.ndarray, size: tuple[int, int] | None) -> dict[str, str]:
    from PIL import Image

    from gradcam_audit.rendering.pictures.overlay import OverlayStyle, colorize

    width, height = size or (heatmap.shape[1], heatmap.shape[0])
    factor = _HEATMAP_ONLY_SIDE / max(width, height, 1)
    display = (max(1, round(width * factor)), max(1, round(height * factor)))
    colours = Image.fromarray(colorize(heatmap, OverlayStyle().colormap)).resize(display, Image.Resampling.BILINEAR)
    return {"overlay": _encode(colours)}


def drawn_pictures(result: CaseResult, working_folder: Path, warn: Callable[[str], None], context: str = "") -> dict[str, str]:
    """Data URIs by kind ("overlay", and "regions" over the image) drawn from ``result.heatmap``; {} without one.

    The heatmap is laid over the image only for the "stretch" fit (the default), whose mapping needs no model input
    size; for the other fits, and when the image is not readable, the heatmap is drawn alone.
    """
    if result.heatmap is None:
        return {}
    try:
        heatmap = result.heatmap.decode()
    except GradcamAuditError as error:
        warn(f"{context}the stored heatmap cannot be drawn: {error}")
        return {}
    image_path = _spec_image(result, working_folder) if result.resize in (None, "stretch") else None
    if image_path is not None:
        from gradcam_audit.core.engine.mapping import plan_geometry, upsample_heatmap
        from gradcam_audit.core.files.images import read_rgb
        from gradcam_audit.rendering.pictures.overlay import case_pictures

        try:
            image = read_rgb(image_path)
        except (GradcamAuditError, OSError, ValueError):
            image = None
        size = (image.shape[1], image.shape[0]) if image is not None else None
        if image is not None and size is not None and (result.image_size is None or tuple(result.image_size) == size):
            full = upsample_heatmap(heatmap, plan_geometry(size, size, "stretch"))
            return {kind: _encode(picture) for kind, picture in case_pictures(result, image, full).items()}
    return _heatmap_alone(heatmap, result.image_size)
