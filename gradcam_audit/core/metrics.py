"""Region metrics: one small class per thresholded quantity, each measuring and deciding its own check.

Adding a metric means a class here (its spec key, what it measures, how it compares) and the key's entry in
the field table (`core/spec/fields.py`, which feeds the loader, the JSON Schema and the README). Every
renderer shows it from its `Check` without knowing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gradcam_audit.core.checks import Check, CheckValue, decide, limit_text
from gradcam_audit.core.spec.model import Region

POINTING_TOLERANCE_PIXELS = 15  # Zhang et al., "Top-down neural attention by excitation backprop"


@dataclass(frozen=True)
class RegionContext:
    """What a metric may measure from: the heatmap, the region's mask, and the basic numbers.

    heatmap: (H, W) non-negative map on the original image whose total is > 0; mask: (H, W) bool.
    """

    heatmap: np.ndarray
    mask: np.ndarray
    mass: float
    lift: float
    area_share: float
    effect: float | None = None  # p(target | image) − p(target | image without the region), where measured


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
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


class RegionMetric:
    """A thresholded region metric. Subclasses set the three class attributes and ``measure``."""

    threshold_key: ClassVar[str]  # the spec key holding the limit, e.g. "min_mass"
    metric: ClassVar[str]  # the measured quantity's name in results, e.g. "mass"
    comparison: ClassVar[str]  # ">=", "<=" or "=="

    def limit(self, region: Region) -> CheckValue:
        value: CheckValue = getattr(region, self.threshold_key)
        return value

    def applies(self, region: Region) -> bool:
        limit = self.limit(region)
        return limit is not None and limit is not False

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        raise NotImplementedError

    def miss_reason(self, region: Region, value: CheckValue, limit: CheckValue, context: RegionContext) -> str | None:
        """Words for a miss; None keeps the default ("mass 0.012 < min_mass 0.05")."""
        return None

    def check(self, region: Region, context: RegionContext) -> Check:
        value = self.measure(region, context)
        limit = self.limit(region)
        return decide(region.name, self.metric, value, self.comparison, limit, threshold_key=self.threshold_key,
                      reason=self.miss_reason(region, value, limit, context) if value is not None else None)


class MinMass(RegionMetric):
    threshold_key = "min_mass"
    metric = "mass"
    comparison = ">="

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        return context.mass


class MaxMass(RegionMetric):
    threshold_key = "max_mass"
    metric = "mass"
    comparison = "<="

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        return context.mass


class MinLift(RegionMetric):
    threshold_key = "min_lift"
    metric = "lift"
    comparison = ">="

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        return context.lift

    def miss_reason(self, region: Region, value: CheckValue, limit: CheckValue, context: RegionContext) -> str | None:
        return f"lift {float(value or 0):.2f} < min_lift {limit_text(float(limit or 0))}"


class PeakInside(RegionMetric):
    """Pointing game: the heatmap's maximum lies within the region, with a tolerance."""

    threshold_key = "peak_inside"
    metric = "peak_inside"
    comparison = "=="

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        peak_row, peak_column = np.unravel_index(int(np.argmax(context.heatmap)), context.heatmap.shape)
        return bool(dilate(context.mask, POINTING_TOLERANCE_PIXELS)[peak_row, peak_column])

    def miss_reason(self, region: Region, value: CheckValue, limit: CheckValue, context: RegionContext) -> str | None:
        peak_row, peak_column = np.unravel_index(int(np.argmax(context.heatmap)), context.heatmap.shape)
        return f"heatmap peak at (x={peak_column}, y={peak_row}) is not inside (±{POINTING_TOLERANCE_PIXELS} px)"


class MinIou(RegionMetric):
    """IoU of the region with the heatmap thresholded at ``iou_threshold`` × its maximum."""

    threshold_key = "min_iou"
    metric = "iou"
    comparison = ">="

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        attended = context.heatmap >= region.iou_threshold * float(context.heatmap.max())
        union = float((attended | context.mask).sum())
        return float((attended & context.mask).sum()) / union if union else 0.0

    def miss_reason(self, region: Region, value: CheckValue, limit: CheckValue, context: RegionContext) -> str | None:
        return f"IoU {float(value or 0):.3f} < min_iou {limit_text(float(limit or 0))} (heatmap ≥ {region.iou_threshold:g}× max)"


class _EffectMetric(RegionMetric):
    """Causal: the measured drop in p(target) when the region is removed (the runner measures it, one pass per region)."""

    metric = "effect"

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        return context.effect


class MaxEffect(_EffectMetric):
    """Causal: removing the region may lower the explained class's probability by at most the limit."""

    threshold_key = "max_effect"
    comparison = "<="

    def miss_reason(self, region: Region, value: CheckValue, limit: CheckValue, context: RegionContext) -> str | None:
        return (f"effect {float(value or 0):.3f} > max_effect {limit_text(float(limit or 0))} (removing it ({region.removal}) lowers "
                "p(target) that much: the model relies on it)")


class MinEffect(_EffectMetric):
    """Causal: removing the region must lower the explained class's probability by at least the limit."""

    threshold_key = "min_effect"
    comparison = ">="

    def miss_reason(self, region: Region, value: CheckValue, limit: CheckValue, context: RegionContext) -> str | None:
        return (f"effect {float(value or 0):.3f} < min_effect {limit_text(float(limit or 0))} (removing it ({region.removal}) barely "
                "changes p(target): the model does not need it)")


# In the order their checks are listed.
REGION_METRICS: tuple[RegionMetric, ...] = (MinMass(), MaxMass(), MinLift(), PeakInside(), MinIou(), MaxEffect(), MinEffect())

# Keys a `--gradcam-override KEY=VALUE` may replace: every numeric region threshold.
OVERRIDABLE_KEYS: tuple[str, ...] = tuple(metric.threshold_key for metric in REGION_METRICS if metric.comparison != "==")
