"""What every annotation format is read into: images with labelled boxes or polygons, in our convention.

Boxes are ``(x_min, y_min, x_max, y_max)`` in pixels of the original image, x_max/y_max exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AnnotatedObject:
    """One labelled object: a box or a polygon (exactly one), and where it came from."""

    category: str
    entry: str  # e.g. "annotations[3] (id 17)", for messages
    box: tuple[float, float, float, float] | None = None
    polygon: tuple[tuple[float, float], ...] = ()

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """The object's bounding box (for a polygon: of its points)."""
        if self.box is not None:
            return self.box
        xs = [x for x, _ in self.polygon]
        ys = [y for _, y in self.polygon]
        return (min(xs), min(ys), max(xs), max(ys))


@dataclass(frozen=True)
class AnnotatedImage:
    """One image and its objects. ``objects`` is empty for an image nobody labelled."""

    image: Path  # absolute
    size: tuple[int, int]  # (width, height) of the image file, after EXIF orientation
    objects: tuple[AnnotatedObject, ...]
    entry: str  # e.g. "images[2] (id 5)" or the per-image annotation file
    case_name: str  # the image's name without suffix, relative to the images folder; basis of the case id


@dataclass(frozen=True)
class AnnotationSet:
    """Everything read from one export."""

    format: str
    source: Path  # the annotation file or folder
    images: tuple[AnnotatedImage, ...]
    categories: tuple[str, ...]  # in the tool's own order (COCO ids, classes.txt lines, first use)
    notes: tuple[str, ...] = ()  # things skipped on purpose (unsupported shape types), shown as warnings

    @property
    def unannotated(self) -> tuple[AnnotatedImage, ...]:
        return tuple(image for image in self.images if not image.objects)
