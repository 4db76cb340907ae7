"""Scoring a heatmap against regions: mass, lift, pointing game and IoU, with verdicts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcam_audit.core.spec.model import Region

POINTING_TOLERANCE_PIXELS = 15  # Zhang et al., "Top-down neural attention by excitation backprop"


@dataclass(frozen=True)
class RegionScore:
    """A region's numbers and verdict. ``failures`` says, in words, every threshold that was missed."""

    name: str
    role: str  # "required" | "forbidden" | "check"
    mass: float
    lift: float
    area_share: float
    unseen_share: float
    peak_inside: bool | None
    iou: float | None
    min_mass: float | None
    max_mass: float | None
    min_lift: float | None
    min_iou: float | None
    iou_threshold: float
    passed: bool
    failures: tuple[str, ...]
    outline: tuple[tuple[float, float], ...] = ()  # polygon in original-image pixels, for drawing


def _role(region: Region) -> str:
    if region.is_required:
        return "required"
    if region.is_forbidden:
        return "forbidden"
    return "check"


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within ``radius`` (Chebyshev) of the mask, via a summed-area table: O(H·W)."""
    height, width = mask.shape
    table = np.zeros((height + 1, width + 1), dtype=np.int64)
    table[1:, 1:] = mask.astype(np.int64).cumsum(0).cumsum(1)
    rows = np.arange(height)
    columns = np.arange(width)
    top = np.clip(rows - radius, 0, height)[:, None]
    bottom = np.clip(rows + radius + 1, 0, height)[:, None]
    left = np.clip(columns - radius, 0, width)[None, :]
    right = np.clip(columns + radius + 1, 0, width)[None, :]
    counts = table[bottom, right] - table[top, right] - table[bottom, left] + table[top, left]
    return counts > 0


def score_region(
    heatmap: np.ndarray,
    mask: np.ndarray,
    region: Region,
    visible: np.ndarray | None = None,
    outline: tuple[tuple[float, float], ...] = (),
) -> RegionScore:
    """Score one region on an (H, W) non-negative heatmap whose total is > 0.

    mass = heatmap inside / heatmap total; area_share = region pixels / pixels the model saw (the whole image
    unless a centre crop hides part of it, where the heatmap is zero); lift = mass / area_share, so an evenly
    spread heatmap has lift 1.0 (chance) in every mode.
    """
    total = float(heatmap.sum())
    inside = float(heatmap[mask].sum())
    if visible is None:
        area_share = float(mask.mean())
        unseen_share = 0.0
    else:
        area_share = float((mask & visible).sum() / max(int(visible.sum()), 1))
        unseen_share = float((mask & ~visible).sum() / max(int(mask.sum()), 1))
    mass = inside / total if total > 0 else 0.0
    lift = mass / area_share if area_share > 0 else 0.0
    failures: list[str] = []
    if not mask.any():
        failures.append("the region covers no pixel of the image")
    elif area_share == 0 and region.is_required:
        failures.append("the model never sees this region: the resize mode crops it away")
    if region.min_mass is not None and mass < region.min_mass:
        failures.append(f"mass {mass:.3f} < min_mass {region.min_mass:g}")
    if region.max_mass is not None and mass > region.max_mass:
        failures.append(f"mass {mass:.3f} > max_mass {region.max_mass:g}")
    if region.min_lift is not None and lift < region.min_lift:
        failures.append(f"lift {lift:.2f} < min_lift {region.min_lift:g}")
    peak_inside: bool | None = None
    if region.peak_inside:
        peak_row, peak_column = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
        peak_inside = bool(_dilate(mask, POINTING_TOLERANCE_PIXELS)[peak_row, peak_column])
        if not peak_inside:
            failures.append(f"heatmap peak at (x={peak_column}, y={peak_row}) is not inside (±{POINTING_TOLERANCE_PIXELS} px)")
    iou: float | None = None
    if region.min_iou is not None:
        attended = heatmap >= region.iou_threshold * float(heatmap.max())
        union = float((attended | mask).sum())
        iou = float((attended & mask).sum()) / union if union else 0.0
        if iou < region.min_iou:
            failures.append(f"IoU {iou:.3f} < min_iou {region.min_iou:g} (heatmap ≥ {region.iou_threshold:g}× max)")
    return RegionScore(
        name=region.name,
        role=_role(region),
        mass=mass,
        lift=lift,
        area_share=area_share,
        unseen_share=unseen_share,
        peak_inside=peak_inside,
        iou=iou,
        min_mass=region.min_mass,
        max_mass=region.max_mass,
        min_lift=region.min_lift,
        min_iou=region.min_iou,
        iou_threshold=region.iou_threshold,
        passed=not failures,
        failures=tuple(failures),
        outline=outline,
    )
