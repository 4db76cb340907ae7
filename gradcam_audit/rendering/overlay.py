"""Per-case pictures: the photo with its regions drawn, and the heatmap overlay (jet, alpha 0.4 by default)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gradcam_audit.core.results import CaseResult

REQUIRED_COLOUR = (0, 200, 83)  # green, solid: where the model should look
FORBIDDEN_COLOUR = (230, 20, 60)  # red, dashed: where it must not
CHECK_COLOUR = (255, 193, 7)


@dataclass(frozen=True)
class OverlayStyle:
    colormap: str = "jet"
    alpha: float = 0.4
    max_side: int = 512
    min_side: int = 256  # small images (64×64 test sets) are enlarged so a reader can see them
    jpeg_quality: int = 85


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
        factor = style.min_side / longest
    return max(1, round(width * factor)), max(1, round(height * factor))


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
    from PIL import ImageDraw

    draw = ImageDraw.Draw(picture)
    for region in result.regions:
        if not region.outline:
            continue
        points = [(x * factor_x, y * factor_y) for x, y in region.outline]
        colour = _colour(region.role)
        if region.role == "forbidden":
            _dashed_polygon(draw, points, colour, 3)
        else:
            draw.polygon(points, outline=colour, width=3)
        label_x = min(x for x, _ in points)
        label_y = max(0.0, min(y for _, y in points) - 13)
        text = region.name + ("" if region.passed else " (fail)")
        box = draw.textbbox((label_x + 2, label_y), text)
        draw.rectangle((box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1), fill=colour)
        draw.text((label_x + 2, label_y), text, fill=(255, 255, 255))


def colorize(heatmap: np.ndarray, colormap: str) -> np.ndarray:
    """(H, W) non-negative map → (H, W, 3) uint8 colours, scaled by the map's own maximum."""
    from matplotlib import colormaps

    peak = float(heatmap.max())
    scaled = heatmap / peak if peak > 0 else np.zeros_like(heatmap)
    return (colormaps[colormap](scaled)[:, :, :3] * 255.0).astype(np.uint8)


def render_case_images(
    result: CaseResult, image: np.ndarray, heatmap: np.ndarray | None, directory: Path, style: OverlayStyle = OverlayStyle()
) -> dict[str, Path]:
    """Write <stem>.regions.jpg and <stem>.overlay.jpg into ``directory``; returns their paths by kind."""
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    stem = safe_file_stem(f"{Path(result.spec).stem}__{result.id}__{result.method}")
    rgb = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
    height, width = rgb.shape[:2]
    display = _display_size(width, height, style)
    # Enlarged small images stay crisp (nearest); large photos are smoothed when shrunk.
    resample = Image.Resampling.NEAREST if display[0] > width else Image.Resampling.BILINEAR
    photo = Image.fromarray(rgb).resize(display, resample)
    factor_x, factor_y = display[0] / width, display[1] / height
    written: dict[str, Path] = {}
    regions_picture = photo.copy()
    _draw_regions(regions_picture, result, factor_x, factor_y)
    written["regions"] = directory / f"{stem}.regions.jpg"
    regions_picture.save(written["regions"], quality=style.jpeg_quality)
    if heatmap is not None and float(heatmap.max()) > 0:
        colours = Image.fromarray(colorize(heatmap, style.colormap)).resize(display, Image.Resampling.BILINEAR)
        blended = Image.blend(photo.convert("RGB"), colours, style.alpha)
        _draw_regions(blended, result, factor_x, factor_y)
        written["overlay"] = directory / f"{stem}.overlay.jpg"
        blended.save(written["overlay"], quality=style.jpeg_quality)
    return written
