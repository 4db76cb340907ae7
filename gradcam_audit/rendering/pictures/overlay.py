"""Per-case pictures: the photo with its regions drawn, and the heatmap overlay (jet, alpha 0.4 by default) with its colour bar."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.core.records.regions import RegionScore
from gradcam_audit.errors import GradcamAuditError
from gradcam_audit.rendering.pictures.marks import TARGET_COLOUR, Mark, task_marks

REQUIRED_COLOUR = (0, 200, 83)  # green, solid: where the model should look
FORBIDDEN_COLOUR = (230, 20, 60)  # red, dashed: where it must not
CHECK_COLOUR = (255, 193, 7)


IMAGE_FORMATS = {"jpeg": "jpg", "webp": "webp"}
# Each format's default quality: WebP 60 looks like JPEG 80 at about half the bytes on the example's pictures; with
# 64-px pictures enlarged ×2 (min_side 128, shown larger by the page without blur) the 8-suite, 120-case example report
# stays under 2.5 MB.
DEFAULT_QUALITY = {"jpeg": 85, "webp": 60}


class OverlayStyleError(GradcamAuditError, ValueError):
    """An overlay setting (colormap, alpha, format, sizes) that cannot be used."""


@dataclass(frozen=True)
class OverlayStyle:
    """How case pictures look and how they are compressed.

    ``colormap`` is any matplotlib colormap name; ``alpha`` is the heatmap's weight in the blend (0 = photo only,
    1 = heatmap only). Pictures are shrunk to ``max_side`` on their longest side; small ones (64×64 test sets) are
    enlarged by a whole factor, pixels kept crisp, until they reach ``min_side``.
    """

    colormap: str = "jet"
    alpha: float = 0.4
    max_side: int = 512
    min_side: int = 128
    image_format: str = "jpeg"  # "jpeg" or "webp"
    quality: int | None = None  # None: the format's default (DEFAULT_QUALITY)

    @property
    def encode_quality(self) -> int:
        return self.quality if self.quality is not None else DEFAULT_QUALITY[self.image_format]

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise OverlayStyleError(f"overlay alpha must be between 0 and 1, got {self.alpha!r}")
        if self.image_format not in IMAGE_FORMATS:
            raise OverlayStyleError(f"overlay image format must be one of {', '.join(IMAGE_FORMATS)}, got {self.image_format!r}")
        if self.quality is not None and not 1 <= self.quality <= 100:
            raise OverlayStyleError(f"overlay image quality must be 1–100, got {self.quality!r}")
        if self.max_side < self.min_side or self.min_side < 1:
            raise OverlayStyleError(f"overlay sizes need 1 ≤ min_side ≤ max_side, got min_side={self.min_side}, max_side={self.max_side}")
        from matplotlib import colormaps

        if self.colormap not in colormaps:
            close = sorted(name for name in colormaps if not name.endswith("_r") and name[:2] == self.colormap[:2])[:8]
            raise OverlayStyleError(f"unknown colormap {self.colormap!r}" + (f"; did you mean one of: {', '.join(close)}" if close else
                                                                             " (use a matplotlib colormap name such as jet, viridis, turbo, inferno)"))


def safe_file_stem(text: str) -> str:
    """A file name from a case id: only [A-Za-z0-9._-], never a path."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "case"
    return stem[:120]


def _display_size(width: int, height: int, style: OverlayStyle) -> tuple[int, int]:
    longest = max(width, height)
    factor = 1.0
    if longest > style.max_side:
        factor = style.max_side / longest
    elif longest < style.min_side:
        # Whole factors only: a 64-px picture becomes 256 px of crisp blocks; a 224-px photo stays as it is.
        factor = float(max(1, style.min_side // longest))
    return max(1, round(width * factor)), max(1, round(height * factor))


@functools.lru_cache(maxsize=16)
def _font(size: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font still labels the regions
        return ImageFont.load_default()


def _colour(role: str) -> tuple[int, int, int]:
    return {"required": REQUIRED_COLOUR, "forbidden": FORBIDDEN_COLOUR}.get(role, CHECK_COLOUR)


def _dashed_polygon(draw, points: list[tuple[float, float]], colour: tuple[int, int, int], width: int, dash: float = 7.0) -> None:  # type: ignore[no-untyped-def]
    for start, end in zip(points, points[1:] + points[:1]):
        length = float(np.hypot(end[0] - start[0], end[1] - start[1]))
        steps = max(1, int(length // dash))
        for step in range(0, steps, 2):
            a = step / steps
            b = min(1.0, (step + 1) / steps)
            draw.line(
                [(start[0] + (end[0] - start[0]) * a, start[1] + (end[1] - start[1]) * a),
                 (start[0] + (end[0] - start[0]) * b, start[1] + (end[1] - start[1]) * b)],
                fill=colour,
                width=width,
            )


Box = tuple[float, float, float, float]  # left, top, right, bottom


def _overlaps(first: Box, second: Box) -> bool:
    return first[0] < second[2] and second[0] < first[2] and first[1] < second[3] and second[1] < first[3]


def _inside(box: Box, width: int, height: int) -> bool:
    return box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height


def _badge_spots(region: Box, side: float, gap: float, width: float | None = None) -> list[Box]:
    """Where a region's badge (``width`` wide, default square) may go, nearest first: beside the region's corners, outside it."""
    left, top, right, bottom = region
    across = side if width is None else width
    corners = [
        (left, top - gap - side), (right - across, top - gap - side),  # above
        (right + gap, top), (left - gap - across, top),  # beside, at the top
        (left, bottom + gap), (right - across, bottom + gap),  # below
        (right + gap, bottom - side), (left - gap - across, bottom - side),  # beside, at the bottom
        (right + gap, top - gap - side), (left - gap - across, top - gap - side),  # diagonally outside
        (right + gap, bottom + gap), (left - gap - across, bottom + gap),
    ]
    return [(x, y, x + across, y + side) for x, y in corners]


def _place_badges(regions: list[Box], width: int, height: int, side: float, gap: float,
                  widths: list[float] | None = None) -> tuple[list[Box | None], float]:
    """Each region's badge box, beside the region (never over it, nor over another badge), or None when no spot inside
    the picture is free; then the height of a strip above the picture where the rest go (0 when none is needed).
    ``widths``: each badge's width (a label longer than a number), by default ``side`` (a square)."""
    placed: list[Box | None] = []
    taken: list[Box] = []
    outlines = [(left - gap, top - gap, right + gap, bottom + gap) for left, top, right, bottom in regions]
    for position, region in enumerate(regions):
        across = widths[position] if widths is not None else None
        spots = [spot for spot in _badge_spots(region, side, gap, across) if _inside(spot, width, height)
                 and not any(_overlaps(spot, other) for other in taken)]
        # Clear of every region if possible; else clear of its own region at least (a region inside another one).
        own = (region[0] - gap, region[1] - gap, region[2] + gap, region[3] + gap)
        spot = next((spot for spot in spots if not any(_overlaps(spot, outline) for outline in outlines)), None)
        spot = spot or next((spot for spot in spots if not _overlaps(spot, own)), None)
        placed.append(spot)
        if spot is not None:
            taken.append(spot)
    return placed, (side + 2 * gap if any(spot is None for spot in placed) else 0.0)


def region_marks(regions: list[tuple[int, RegionScore]], factor_x: float, factor_y: float) -> list[Mark]:
    """Every region with an outline: required solid green, forbidden dashed red, measured-only amber, its number as label.

    ``regions`` pairs each region with its index in the case's results (the badge shows index + 1).
    """
    return [Mark(tuple((x * factor_x, y * factor_y) for x, y in region.outline), _colour(region.role), region.role == "forbidden",
                 str(index + 1)) for index, region in regions if region.outline]


def _draw_marks(picture, marks: list[Mark]):  # type: ignore[no-untyped-def]
    """Draw every mark (a region, a task's target or matched detection) and its label in a badge beside it.

    The regions' names, roles and verdicts are in the report's legend under the picture, keyed by their numbers: text
    drawn into a picture is cut or covers what it names once regions crowd a small image; a one-digit badge always fits
    beside its region. A task's target and detection get a short word (``target``, the detection's ``p``) the same way.
    Returns the picture, taller by a strip at the top when a badge found no free spot beside its shape.
    """
    from PIL import Image, ImageDraw

    if not marks:
        return picture
    longest = max(picture.size)
    line_width = max(2, round(longest / 110))
    font = _font(max(11, round(longest / 21)))
    text_height = font.getbbox("0123456789")[3]
    side = float(text_height + 6)
    width, height = picture.size
    measure = ImageDraw.Draw(picture)
    # A number's badge is a square; a word's is as wide as the word, but never wider than the picture (never cut).
    widths = [side if len(mark.label) <= 1 else min(float(width), measure.textlength(mark.label, font=font) + 6.0) for mark in marks]
    # The part of each shape inside the picture (a region may reach past its edges): badges go beside that part.
    boxes: list[Box] = [(min(max(min(x for x, _ in mark.points), 0.0), width), min(max(min(y for _, y in mark.points), 0.0), height),
                         max(min(max(x for x, _ in mark.points), width), 0.0), max(min(max(y for _, y in mark.points), height), 0.0))
                        for mark in marks]
    spots, strip = _place_badges(boxes, width, height, side, float(line_width + 1), widths)
    if strip:
        canvas = Image.new("RGB", (picture.size[0], picture.size[1] + round(strip)), (255, 255, 255))
        canvas.paste(picture, (0, round(strip)))
        picture = canvas
    draw = ImageDraw.Draw(picture)
    shift = round(strip)
    next_free = 0.0
    for mark, box, spot, across in zip(marks, boxes, spots, widths):
        shifted = [(x, y + shift) for x, y in mark.points]
        if mark.dashed:
            _dashed_polygon(draw, shifted, mark.colour, line_width, dash=max(5.0, longest / 45))
        else:
            draw.polygon(shifted, outline=mark.colour, width=line_width)
        if spot is None:  # in the strip above the picture, over the shape's left edge, after the previous ones
            left = min(max(box[0], next_free), picture.size[0] - across)
            spot = (left, line_width + 1.0, left + across, line_width + 1.0 + side)
            next_free = spot[2] + line_width + 1
        else:
            spot = (spot[0], spot[1] + shift, spot[2], spot[3] + shift)
        draw.rectangle(spot, fill=mark.colour, outline=(0, 0, 0) if mark.colour == TARGET_COLOUR else None)
        text_width = draw.textlength(mark.label, font=font)
        draw.text((spot[0] + (across - text_width) / 2,
                   spot[1] + 3 - font.getbbox(mark.label)[1] + (text_height - font.getbbox(mark.label)[3]) / 2),
                  mark.label, fill=mark.label_text_colour, font=font)
    return picture


def _with_colour_bar(picture, colormap: str):  # type: ignore[no-untyped-def]
    """The overlay with its colour bar underneath, drawn from the same colormap, so it always matches."""
    from PIL import Image, ImageDraw

    width, height = picture.size
    font = _font(max(10, round(max(width, height) / 24)))
    margin = max(4, width // 40)
    bar_height = max(8, height // 24)
    text_height = font.getbbox("Ahg")[3]
    canvas = Image.new("RGB", (width, height + bar_height + text_height + 3 * margin), (255, 255, 255))
    canvas.paste(picture, (0, 0))
    ramp = np.linspace(0.0, 1.0, width - 2 * margin)[None, :].repeat(bar_height, axis=0)
    canvas.paste(Image.fromarray(colorize(ramp, colormap)), (margin, height + margin))
    draw = ImageDraw.Draw(canvas)
    text_y = height + 2 * margin + bar_height
    draw.text((margin, text_y), "low", fill=(60, 64, 67), font=font)
    right = "high attention"
    draw.text((width - margin - draw.textlength(right, font=font), text_y), right, fill=(60, 64, 67), font=font)
    return canvas


@functools.lru_cache(maxsize=8)
def _colour_table(colormap: str) -> np.ndarray:
    """(256, 3) uint8 colours of a matplotlib colormap: a lookup is ~10× faster than calling the colormap per pixel."""
    from matplotlib import colormaps

    return (colormaps[colormap](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0).round().astype(np.uint8)


def colorize(heatmap: np.ndarray, colormap: str) -> np.ndarray:
    """(H, W) non-negative map → (H, W, 3) uint8 colours, scaled by the map's own maximum."""
    peak = float(heatmap.max())
    scaled = np.clip(heatmap / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(heatmap)
    return _colour_table(colormap)[np.rint(scaled * 255.0).astype(np.uint8)]


def case_pictures(result: CaseResult, image: np.ndarray, heatmap: np.ndarray | None, style: OverlayStyle | None = None) -> dict[str, Any]:
    """The case's pictures as PIL images by kind: "regions" always, "overlay" when the heatmap is usable.

    ``image`` is the (H, W, 1 or 3) uint8 picture, ``heatmap`` the (H, W) non-negative map at the picture's size.
    No overlay is drawn for a missing, non-finite or all-zero heatmap (the report says why).
    """
    from PIL import Image

    style = style or OverlayStyle()
    rgb = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
    height, width = rgb.shape[:2]
    display = _display_size(width, height, style)
    # Enlarged small images stay crisp (nearest); large photos are smoothed when shrunk.
    resample = Image.Resampling.NEAREST if display[0] > width else Image.Resampling.BILINEAR
    photo = Image.fromarray(rgb).resize(display, resample)
    factor_x, factor_y = display[0] / width, display[1] / height
    pictures: dict[str, Any] = {}
    # A segmentation / detection case's target and matched detection are drawn last: over the regions they may share edges with.
    marks = region_marks(list(enumerate(result.regions)), factor_x, factor_y) + task_marks(result.task_target, factor_x, factor_y)
    pictures["regions"] = _draw_marks(photo.copy(), marks)
    finite = heatmap is not None and bool(np.all(np.isfinite(heatmap)))
    if heatmap is not None and finite and float(heatmap.max()) > 0:
        # Shrink the map first when it is larger than the display: colouring 512² pixels, not the source's millions.
        small = np.asarray(Image.fromarray(np.ascontiguousarray(heatmap, dtype=np.float32)).resize(display, Image.Resampling.BILINEAR))
        colours = Image.fromarray(colorize(np.maximum(small, 0.0), style.colormap))
        blended = Image.blend(photo.convert("RGB"), colours, style.alpha)
        pictures["overlay"] = _with_colour_bar(_draw_marks(blended, marks), style.colormap)
    return pictures


def removed_kind(region_index: int) -> str:
    """The picture kind of the image without region ``region_index`` (its position in the result's regions)."""
    return f"removed-{region_index}"


def removal_pictures(result: CaseResult, removed: Mapping[str, np.ndarray], style: OverlayStyle | None = None) -> dict[str, Any]:
    """For each region whose effect was measured, the image without it (as the model saw it), the region outlined."""
    from PIL import Image

    style = style or OverlayStyle()
    pictures: dict[str, Any] = {}
    for index, region in enumerate(result.regions):
        edited = removed.get(region.name)
        if edited is None or region.causal is None:
            continue
        rgb = np.repeat(edited, 3, axis=2) if edited.shape[2] == 1 else edited
        height, width = rgb.shape[:2]
        # Half the size of the case's main pictures: a thumbnail showing what was removed; the caption holds the numbers.
        full = _display_size(width, height, style)
        display = (max(1, full[0] // 2), max(1, full[1] // 2))
        resample = Image.Resampling.NEAREST if display[0] > width else Image.Resampling.BILINEAR
        picture = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).resize(display, resample)
        pictures[removed_kind(index)] = _draw_marks(picture, region_marks([(index, region)], display[0] / width, display[1] / height))
    return pictures


def render_case_images(
    result: CaseResult,
    image: np.ndarray,
    heatmap: np.ndarray | None,
    directory: Path,
    style: OverlayStyle | None = None,
    removed: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Path]:
    """Write <stem>.regions.jpg and <stem>.overlay.jpg (or .webp) into ``directory``; returns their paths by kind.

    ``removed`` (region name → the image without that region, from the causal checks) adds one
    <stem>.removed-N picture per measured region.
    """
    style = style or OverlayStyle()
    directory.mkdir(parents=True, exist_ok=True)
    # A short hash of the full identity: specs with the same file name in different folders, or ids that
    # differ only in punctuation, must not overwrite each other's pictures.
    identity = hashlib.sha1(f"{result.spec}\0{result.id}\0{result.method}".encode()).hexdigest()[:8]
    stem = safe_file_stem(f"{Path(result.spec).stem}__{result.id}__{result.method}") + f"-{identity}"
    suffix = IMAGE_FORMATS[style.image_format]
    # Huffman tables fitted to each picture and progressive scans: the same pixels, about a fifth fewer bytes.
    save_options = {"quality": style.encode_quality, **({"method": 4} if style.image_format == "webp" else {"optimize": True, "progressive": True})}
    written: dict[str, Path] = {}
    pictures = {**case_pictures(result, image, heatmap, style), **removal_pictures(result, removed or {}, style)}
    for kind, picture in pictures.items():
        written[kind] = directory / f"{stem}.{kind}.{suffix}"
        picture.save(written[kind], format=None, **save_options)
    return written
