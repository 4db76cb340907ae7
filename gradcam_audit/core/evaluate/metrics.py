"""Region metrics: one class per thresholded quantity, owning its spec keys, measurement, verdict and wording.

The spec's field table, both JSON Schemas, the docs' spec reference, the loader's checks and the report's words are
generated from the classes in `REGION_METRICS`: adding a metric is one class here, registered there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from gradcam_audit.core.records.checks import Check, CheckValue, decide, limit_text
from gradcam_audit.core.spec.model import DEFAULT_IOU_THRESHOLD, Region

POINTING_TOLERANCE_PIXELS = 15  # Zhang et al., "Top-down neural attention by excitation backprop"

# The JSON Schema of each kind of value a region metric's spec key may hold; the loader reads the same ranges.
KEY_KINDS: dict[str, dict[str, Any]] = {
    "fraction": {"type": "number", "minimum": 0, "maximum": 1},
    "positive": {"type": "number", "exclusiveMinimum": 0},
    "boolean": {"type": "boolean"},
}


@dataclass(frozen=True)
class SpecKey:
    """One key a region metric reads from a region (or `defaults:`): its type and range, documentation and fix.

    Attributes:
        name: the key as written in a spec, e.g. "min_mass".
        kind: "fraction" (a number in [0, 1]), "positive" (a number > 0) or "boolean".
        description: its meaning, for the docs' spec reference and the JSON Schema.
        example: a valid value as YAML, e.g. "0.5".
        fix: how to write a valid value, shown when the loader rejects one (numbers only).
        default: the value when unset (None: the check is off).
    """

    name: str
    kind: str
    description: str
    example: str
    fix: str = ""
    default: float | bool | None = None

    def __post_init__(self) -> None:
        if self.kind not in KEY_KINDS:
            raise ValueError(f"spec key {self.name!r}: unknown kind {self.kind!r}; expected one of {', '.join(KEY_KINDS)}")

    @property
    def json_schema(self) -> dict[str, Any]:
        return dict(KEY_KINDS[self.kind])


def percent(share: float) -> str:
    """0.146 → '14.6%', 0.5 → '50%', 0.004 → 'under 0.1%' (a share as people read it)."""
    value = share * 100.0
    if 0 < value < 0.1:
        return "under 0.1%"
    text = f"{value:.1f}".rstrip("0").rstrip(".") if abs(value) < 99.95 else f"{value:.0f}"
    return f"{text}%"


def _times(lift: float) -> str:
    return f"{lift:.1f}×" if lift >= 0.095 or lift == 0 else f"{lift:.2f}×"


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
    """A thresholded region metric. Subclasses declare ``key``, ``metric``, ``comparison`` and implement ``measure``.

    The declaration is all the rest of the package needs: the loader reads ``key`` and ``parameters`` with their
    kinds, the schema and the docs' spec reference document them, the report words the measured value with ``label`` / ``display``
    and a miss with ``finding``.
    """

    key: ClassVar[SpecKey]  # the spec key holding the limit, e.g. min_mass
    parameters: ClassVar[tuple[SpecKey, ...]] = ()  # further keys the measurement reads, e.g. iou_threshold
    metric: ClassVar[str]  # the measured quantity's name in results, e.g. "mass"
    comparison: ClassVar[str]  # ">=", "<=" or "=="
    label: ClassVar[str] = ""  # what the report calls the measured quantity ("" → the metric's name)
    display: ClassVar[str] = "number"  # how values read: "share" (as %), "times" (a ratio ×), "yes_no", "number"
    # "require" / "forbid": a region that writes a forbidding limit and no requiring one drops inherited requiring ones.
    role: ClassVar[str] = ""
    # (key of the matching upper limit, what could then never pass): a lower limit above it is a spec error.
    ceiling: ClassVar[tuple[str, str] | None] = None

    @property
    def threshold_key(self) -> str:
        return self.key.name

    @property
    def spec_keys(self) -> tuple[SpecKey, ...]:
        """Every key this metric reads, the limit first."""
        return (self.key, *self.parameters)

    def limit(self, region: Region) -> CheckValue:
        return region.threshold(self.threshold_key)

    def parameter(self, region: Region, name: str) -> float:
        """A numeric parameter as the region sets it, else its declared default."""
        declared = next((key for key in self.parameters if key.name == name), None)
        if declared is None:
            raise KeyError(f"{self.threshold_key} declares no parameter {name!r}")
        value = region.threshold(name)
        return float((declared.default if value is None else value) or 0.0)

    def applies(self, region: Region) -> bool:
        limit = self.limit(region)
        return limit is not None and limit is not False

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        raise NotImplementedError

    def miss_reason(self, region: Region, value: CheckValue, limit: CheckValue, context: RegionContext) -> str | None:
        """Words for a miss in the check record; None keeps the default ("mass 0.012 < min_mass 0.05")."""
        return None

    def finding(self, name: str, value: float | bool, limit: float | bool, forbidden: bool) -> str | None:
        """A missed limit as a plain sentence for the report (``name`` comes quoted); None: the generic wording.

        ``forbidden``: the region is a forbidden one (it only limits from above).
        """
        return None

    def check(self, region: Region, context: RegionContext) -> Check:
        value = self.measure(region, context)
        limit = self.limit(region)
        return decide(region.name, self.metric, value, self.comparison, limit, threshold_key=self.threshold_key,
                      reason=self.miss_reason(region, value, limit, context) if value is not None else None)


class _MassMetric(RegionMetric):
    metric = "mass"
    label = "attention share"
    display = "share"

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        return context.mass


class MinMass(_MassMetric):
    key = SpecKey("min_mass", "fraction", "Least share of the heatmap's mass that must fall inside the region.", "0.5",
                  "a share of the heatmap's mass between 0 and 1, e.g. 0.5 for half")
    comparison = ">="
    role = "require"
    ceiling = ("max_mass", "no heatmap")

    def finding(self, name: str, value: float | bool, limit: float | bool, forbidden: bool) -> str | None:
        return f"only {percent(value)} of the attention fell on {name} (at least {limit * 100:g}% required)"


class MaxMass(_MassMetric):
    key = SpecKey("max_mass", "fraction", "Largest share of the heatmap's mass allowed inside (a forbidden region).", "0.05",
                  "a share of the heatmap's mass between 0 and 1, e.g. 0.05 for a forbidden region")
    comparison = "<="
    role = "forbid"

    def finding(self, name: str, value: float | bool, limit: float | bool, forbidden: bool) -> str | None:
        where = "the forbidden region " if forbidden else ""
        return f"{percent(value)} of the attention fell on {where}{name} (at most {limit * 100:g}% allowed)"


class MinLift(RegionMetric):
    key = SpecKey("min_lift", "positive", "Least lift: mass inside ÷ share of the image the region covers (chance level is 1.0).",
                  "1.5", "a lift of 1.0 is chance level; use e.g. 1.5")
    metric = "lift"
    comparison = ">="
    label = "lift over chance"
    display = "times"
    role = "require"

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        return context.lift

    def miss_reason(self, region: Region, value: CheckValue, limit: CheckValue, context: RegionContext) -> str | None:
        return f"lift {float(value or 0):.2f} < min_lift {limit_text(float(limit or 0))}"

    def finding(self, name: str, value: float | bool, limit: float | bool, forbidden: bool) -> str | None:
        return f"{name} got {_times(value)} the attention its size alone explains (at least {limit:g}× required)"


class PeakInside(RegionMetric):
    """Pointing game: the heatmap's maximum lies within the region, with a tolerance."""

    key = SpecKey("peak_inside", "boolean",
                  f"Pointing game: the heatmap's maximum must lie inside the region ({POINTING_TOLERANCE_PIXELS} px tolerance, Zhang et al.).",
                  "true", default=False)
    metric = "peak_inside"
    comparison = "=="
    label = "hottest point inside"
    display = "yes_no"

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        peak_row, peak_column = np.unravel_index(int(np.argmax(context.heatmap)), context.heatmap.shape)
        return bool(dilate(context.mask, POINTING_TOLERANCE_PIXELS)[peak_row, peak_column])

    def miss_reason(self, region: Region, value: CheckValue, limit: CheckValue, context: RegionContext) -> str | None:
        peak_row, peak_column = np.unravel_index(int(np.argmax(context.heatmap)), context.heatmap.shape)
        return f"heatmap peak at (x={peak_column}, y={peak_row}) is not inside (±{POINTING_TOLERANCE_PIXELS} px)"

    def finding(self, name: str, value: float | bool, limit: float | bool, forbidden: bool) -> str | None:
        return f"the heatmap's hottest point is outside {name}"


class MinIou(RegionMetric):
    """IoU of the region with the heatmap thresholded at ``iou_threshold`` × its maximum."""

    key = SpecKey("min_iou", "fraction", "Least IoU between the region and the heatmap thresholded at `iou_threshold` × its maximum.",
                  "0.3", "an intersection-over-union between 0 and 1, e.g. 0.3")
    parameters = (SpecKey("iou_threshold", "fraction",
                          "Fraction of the heatmap's maximum above which a pixel counts as 'attended' for `min_iou`.", "0.5",
                          "a fraction of the heatmap's maximum between 0 and 1, e.g. 0.5", default=DEFAULT_IOU_THRESHOLD),)
    metric = "iou"
    comparison = ">="
    label = "overlap with hot area (IoU)"
    display = "share"

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        attended = context.heatmap >= self.parameter(region, "iou_threshold") * float(context.heatmap.max())
        union = float((attended | context.mask).sum())
        return float((attended & context.mask).sum()) / union if union else 0.0

    def miss_reason(self, region: Region, value: CheckValue, limit: CheckValue, context: RegionContext) -> str | None:
        return (f"IoU {float(value or 0):.3f} < min_iou {limit_text(float(limit or 0))} "
                f"(heatmap ≥ {self.parameter(region, 'iou_threshold'):g}× max)")

    def finding(self, name: str, value: float | bool, limit: float | bool, forbidden: bool) -> str | None:
        return f"the heatmap's hot area overlaps {name} by only {percent(value)} (at least {limit * 100:g}% required)"


class _EffectMetric(RegionMetric):
    """Causal: the measured drop in p(target) when the region is removed (the runner measures it, one pass per region)."""

    metric = "effect"
    label = "drop in the class's probability when removed (effect)"
    display = "share"

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        return context.effect


class MaxEffect(_EffectMetric):
    """Causal: removing the region may lower the explained class's probability by at most the limit."""

    key = SpecKey("max_effect", "fraction",
                  "Causal check: removing the region (see `removal`) may lower the explained class's probability by "
                  "at most this much (effect = p(target | image) − p(target | image without the region)).", "0.1",
                  "a drop of the explained class's probability between 0 and 1, e.g. 0.1")
    comparison = "<="
    role = "forbid"

    def miss_reason(self, region: Region, value: CheckValue, limit: CheckValue, context: RegionContext) -> str | None:
        return (f"effect {float(value or 0):.3f} > max_effect {limit_text(float(limit or 0))} (removing it ({region.removal}) lowers "
                "p(target) that much: the model relies on it)")

    def finding(self, name: str, value: float | bool, limit: float | bool, forbidden: bool) -> str | None:
        return f"removing {name} lowers the class's probability by {percent(value)} (at most {limit * 100:g}% allowed): the model relies on it"


class MinEffect(_EffectMetric):
    """Causal: removing the region must lower the explained class's probability by at least the limit."""

    key = SpecKey("min_effect", "fraction", "Causal check: removing the region must lower the explained class's probability by at least this much.",
                  "0.3", "a drop of the explained class's probability between 0 and 1, e.g. 0.3")
    comparison = ">="
    role = "require"
    ceiling = ("max_effect", "no region's removal")

    def miss_reason(self, region: Region, value: CheckValue, limit: CheckValue, context: RegionContext) -> str | None:
        return (f"effect {float(value or 0):.3f} < min_effect {limit_text(float(limit or 0))} (removing it ({region.removal}) barely "
                "changes p(target): the model does not need it)")

    def finding(self, name: str, value: float | bool, limit: float | bool, forbidden: bool) -> str | None:
        return f"removing {name} lowers the class's probability by only {percent(value)} (at least {limit * 100:g}% required)"


class MetricRegistry:
    """The region metrics in the order their checks are listed; iterating it gives the metrics registered now."""

    def __init__(self, *metrics: RegionMetric) -> None:
        self._metrics: list[RegionMetric] = []
        for metric in metrics:
            self.register(metric)

    def __iter__(self) -> Iterator[RegionMetric]:
        return iter(tuple(self._metrics))

    def __len__(self) -> int:
        return len(self._metrics)

    def register(self, metric: RegionMetric) -> None:
        """Add a metric after the others.

        Raises:
            ValueError: its limit key is taken, or a parameter is declared differently by another metric.
        """
        if metric.comparison not in (">=", "<=", "=="):
            raise ValueError(f"region metric {metric.threshold_key!r}: comparison must be >=, <= or ==, got {metric.comparison!r}")
        declared = {key.name: key for key in self.spec_keys()}
        if metric.threshold_key in declared:
            raise ValueError(f"region metric key {metric.threshold_key!r} is already declared; choose another name")
        for parameter in metric.parameters:
            if parameter.name in declared and declared[parameter.name] != parameter:
                raise ValueError(f"parameter {parameter.name!r} of {metric.threshold_key!r} is declared differently by another metric")
        self._metrics.append(metric)

    def unregister(self, threshold_key: str) -> None:
        """Remove the metric whose limit key is ``threshold_key`` (KeyError when none is)."""
        metric = self.by_key(threshold_key)
        if metric is None:
            raise KeyError(threshold_key)
        self._metrics.remove(metric)

    @contextmanager
    def registered(self, metric: RegionMetric) -> Iterator[RegionMetric]:
        """The metric registered for the block only (tests, notebooks): it is removed again on exit."""
        self.register(metric)
        try:
            yield metric
        finally:
            self.unregister(metric.threshold_key)

    def by_key(self, threshold_key: str) -> RegionMetric | None:
        return next((metric for metric in self._metrics if metric.threshold_key == threshold_key), None)

    def by_metric(self, metric_name: str) -> RegionMetric | None:
        """The first metric measuring ``metric_name`` (e.g. "mass"): its label and display are shared by its siblings."""
        return next((metric for metric in self._metrics if metric.metric == metric_name), None)

    def spec_keys(self) -> tuple[SpecKey, ...]:
        """Every key the metrics read, in order, each once (a parameter shared by two metrics is declared once)."""
        keys: dict[str, SpecKey] = {}
        for metric in self._metrics:
            for key in metric.spec_keys:
                keys.setdefault(key.name, key)
        return tuple(keys.values())


REGION_METRICS = MetricRegistry(MinMass(), MaxMass(), MinLift(), PeakInside(), MinIou(), MaxEffect(), MinEffect())


def register_region_metric(metric: RegionMetric) -> None:
    """Make a region metric known to the loader, the schema, the reference, the scorer and the report."""
    REGION_METRICS.register(metric)


def unregister_region_metric(threshold_key: str) -> None:
    REGION_METRICS.unregister(threshold_key)


# Keys a `--gradcam-override KEY=VALUE` may replace: every numeric region threshold of the built-in metrics.
OVERRIDABLE_KEYS: tuple[str, ...] = tuple(metric.threshold_key for metric in REGION_METRICS if metric.comparison != "==")
