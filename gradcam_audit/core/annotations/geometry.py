"""Checks shared by every reader: the image exists with the size the tool recorded, shapes lie inside it."""

from __future__ import annotations

import math
from pathlib import Path

from gradcam_audit.core.annotations.errors import ProblemList
from gradcam_audit.core.files.images import image_size
from gradcam_audit.errors import ImageError

Box = tuple[float, float, float, float]
Points = tuple[tuple[float, float], ...]

CLIP_FIX = "correct the annotation, or pass --clip-boxes to cut shapes to the image"


def format_numbers(values: tuple[float, ...] | list[float]) -> str:
    return "[" + ", ".join(f"{value:g}" for value in values) + "]"


def checked_image_size(
    path: Path, declared: tuple[int, int] | None, file: str, entry: str, problems: ProblemList
) -> tuple[int, int] | None:
    """The image's real (width, height); a problem if it is missing, unreadable or not the size the tool recorded."""
    try:
        size = image_size(path)
    except ImageError as error:
        problems.add(file, entry, str(error), "check the images folder (--images) and the file name in the annotation")
        return None
    if declared is not None and tuple(declared) != size:
        problems.add(
            file,
            entry,
            f"the annotation says the image is {declared[0]}×{declared[1]} pixels but {path.name} is {size[0]}×{size[1]}",
            "the boxes would land in the wrong place: re-export the annotations for these image files "
            "(a rotated phone photo? sizes are after EXIF orientation)",
        )
        return None
    return size


def checked_box(box: Box, size: tuple[int, int], file: str, entry: str, problems: ProblemList, *, clip: bool) -> Box | None:
    """The box if it is non-empty and inside the image (or clipped to it with ``clip``), else None and a problem."""
    if not all(math.isfinite(value) for value in box):
        problems.add(file, entry, f"box {list(box)} has a non-finite coordinate")
        return None
    x_min, y_min, x_max, y_max = box
    width, height = size
    if x_max <= x_min or y_max <= y_min:
        problems.add(file, entry, f"empty box {format_numbers(box)} (as x_min, y_min, x_max, y_max): it has no area")
        return None
    if x_min < 0 or y_min < 0 or x_max > width or y_max > height:
        if not clip:
            problems.add(file, entry, f"box {format_numbers(box)} (x_min, y_min, x_max, y_max) lies outside the image, "
                         f"which is {width}×{height} pixels", CLIP_FIX)
            return None
        x_min, y_min, x_max, y_max = max(0.0, x_min), max(0.0, y_min), min(float(width), x_max), min(float(height), y_max)
        if x_max <= x_min or y_max <= y_min:
            problems.add(file, entry, f"box {format_numbers(box)} lies entirely outside the {width}×{height} image")
            return None
    return (x_min, y_min, x_max, y_max)


def checked_polygon(points: Points, size: tuple[int, int], file: str, entry: str, problems: ProblemList, *, clip: bool) -> Points | None:
    """The polygon if it has three or more points inside the image (or clipped to it), else None and a problem."""
    if len(points) < 3:
        problems.add(file, entry, f"a polygon needs at least three points, got {len(points)}")
        return None
    if not all(math.isfinite(value) for point in points for value in point):
        problems.add(file, entry, "polygon has a non-finite coordinate")
        return None
    width, height = size
    outside = [point for point in points if not (0 <= point[0] <= width and 0 <= point[1] <= height)]
    if outside:
        if not clip:
            problems.add(file, entry, f"polygon point {format_numbers(outside[0])} lies outside the image, which is "
                         f"{width}×{height} pixels ({len(outside)} point(s) outside)", CLIP_FIX)
            return None
        points = tuple((min(max(x, 0.0), float(width)), min(max(y, 0.0), float(height))) for x, y in points)
    return points


def case_name(image: Path, images_dir: Path) -> str:
    """The image's path below the images folder, without suffix: unique within one export."""
    try:
        relative = image.relative_to(images_dir)
    except ValueError:
        relative = Path(image.name)
    return relative.with_suffix("").as_posix()


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")


def image_files(directory: Path) -> list[Path]:
    """Image files directly in ``directory``, sorted."""
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
