"""Per-case pictures: the photo with its regions drawn, and the heatmap overlay (jet, alpha 0.4 by default) with its colour bar."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.errors import GradcamAuditError

REQUIRED_COLOUR = (0, 200, 83)  # green, solid: where the model should look
FORBIDDEN_COLOUR = (230, 20, 60)  # red, dashed: where it must not
CHECK_COLOUR = (255, 193, 7)


IMAGE_FORMATS = {"jpeg": "jpg", "webp": "webp"}


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
    min_side: int = 256
    image_format: str = "jpeg"  # "jpeg" or "webp"
    quality: int = 85

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise OverlayStyleError(f"overlay alpha must be between 0 and 1, got {self.alpha!r}")
        if self.image_format not in IMAGE_FORMATS:
            raise OverlayStyleError(f"overlay image format must be one of {', '.join(IMAGE_FORMATS)}, got {self.image_format!r}")
        if not 1 <= self.quality <= 100:
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


def _draw_regions(picture, result: CaseResult, factor_x: float, factor_y: float) -> None:  # type: ignore[no-untyped-def]
    """Outline every region (required solid green, forbidden dashed red) and label it with its role and verdict."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(picture)
    longest = max(picture.size)
    line_width = max(2, round(longest / 110))
    font = _font(max(11, round(longest / 21)))
    for region in result.regions:
        if not region.outline:
            continue
        points = [(x * factor_x, y * factor_y) for x, y in region.outline]
        colour = _colour(region.role)
        if region.role == "forbidden":
            _dashed_polygon(draw, points, colour, line_width, dash=max(5.0, longest / 45))
        else:
            draw.polygon(points, outline=colour, width=line_width)
        role = {"required": "look here", "forbidden": "not here"}.get(region.role, "measured")
        text = f"{region.name} ({role})" + ("" if region.passed else " FAIL")
        box = draw.textbbox((0, 0), text, font=font)
        text_width, text_height = box[2] - box[0], box[3] - box[1]
        # Above the region where there is room, else below it (a label must not hide what the region shows),
        # else just inside its top edge; never off the picture.
        label_x = min(max(0.0, min(x for x, _ in points)), max(0.0, picture.size[0] - text_width - 4))
        top, bottom = min(y for _, y in points), max(y for _, y in points)
        if top - text_height - 4 - line_width >= 0:
            label_y = top - text_height - 4 - line_width
        elif bottom + line_width + text_height + 4 <= picture.size[1]:
            label_y = bottom + line_width
        else:
            label_y = top + line_width
        label_y = min(label_y, picture.size[1] - text_height - 4)
        draw.rectangle((label_x, label_y, label_x + text_width + 4, label_y + text_height + 4), fill=colour)
        draw.text((label_x + 2 - box[0], label_y + 2 - box[1]), text, fill=(255, 255, 255), font=font)


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
    regions_picture = photo.copy()
    _draw_regions(regions_picture, result, factor_x, factor_y)
    pictures["regions"] = regions_picture
    finite = heatmap is not None and bool(np.all(np.isfinite(heatmap)))
    if heatmap is not None and finite and float(heatmap.max()) > 0:
        # Shrink the map first when it is larger than the display: colouring 512² pixels, not the source's millions.
        small = np.asarray(Image.fromarray(np.ascontiguousarray(heatmap, dtype=np.float32)).resize(display, Image.Resampling.BILINEAR))
        colours = Image.fromarray(colorize(np.maximum(small, 0.0), style.colormap))
        blended = Image.blend(photo.convert("RGB"), colours, style.alpha)
        _draw_regions(blended, result, factor_x, factor_y)
        pictures["overlay"] = _with_colour_bar(blended, style.colormap)
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
        display = _display_size(width, height, style)
        resample = Image.Resampling.NEAREST if display[0] > width else Image.Resampling.BILINEAR
        picture = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).resize(display, resample)
        _draw_regions(picture, replace(result, regions=(region,)), display[0] / width, display[1] / height)
        pictures[removed_kind(index)] = picture
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
    save_options = {"quality": style.quality, **({"method": 4} if style.image_format == "webp" else {})}
    written: dict[str, Path] = {}
    pictures = {**case_pictures(result, image, heatmap, style), **removal_pictures(result, removed or {}, style)}
    for kind, picture in pictures.items():
        written[kind] = directory / f"{stem}.{kind}.{suffix}"
        picture.save(written[kind], format=None, **save_options)
    return written
