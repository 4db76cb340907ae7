"""A region's record: its numbers (mass, lift, area share), its decided checks and, where measured, its causal effect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from gradcam_audit.core.records.checks import Check, all_passed, reasons
from gradcam_audit.core.records.codec import JsonForm


@dataclass(frozen=True)
class RegionEffect:
    """A region's causal effect: the explained class's probability with the image as it is and without the region.

    ``removal`` is how the region was removed (core/evaluate/removal.py); effect = before − after (negative when removing
    the region makes the class more likely).
    """

    removal: str
    probability_before: float
    probability_after: float

    @property
    def effect(self) -> float:
        return self.probability_before - self.probability_after

    # The effect is what max_effect / min_effect limit, written for the reader of the file; read back, recomputed.
    JSON_FORM: ClassVar[JsonForm] = JsonForm(keys=("effect", "removal", "probability_before", "probability_after"),
                                             derived={"effect": lambda measured: measured.effect})


@dataclass(frozen=True)
class RegionScore:
    """A region's numbers and its decided checks.

    Attributes:
        name / role: the region and whether the model must look there ("required"), must not ("forbidden"),
            or it is only measured ("check").
        mass: heatmap inside ÷ heatmap total; area_share: region pixels ÷ pixels the model saw;
        lift: mass ÷ area_share (1.0 is chance); unseen_share: share of the region the model never saw.
        checks: every threshold of the region, decided (see `core.checks.Check`).
        outline: polygon in original-image pixels, for drawing.
    """

    name: str
    role: str  # "required" | "forbidden" | "check"
    mass: float
    lift: float
    area_share: float
    unseen_share: float = 0.0
    checks: tuple[Check, ...] = ()
    iou_threshold: float = 0.5
    outline: tuple[tuple[float, float], ...] = ()
    causal: RegionEffect | None = None  # measured only for regions with max_effect / min_effect

    # "passed" is written for the reader of the file; the causal effect's keys sit beside the region's own numbers
    # (where measured), as the report and earlier versions read them.
    JSON_FORM: ClassVar[JsonForm] = JsonForm(
        keys=("name", "role", "mass", "lift", "area_share", "unseen_share", "passed", "checks", "iou_threshold", "outline",
              "effect", "removal", "probability_before", "probability_after"),
        derived={"passed": lambda region: region.passed}, flattened="causal")

    @property
    def effect(self) -> float | None:
        """p(target | image) − p(target | image without the region), or None when it was not measured."""
        return self.causal.effect if self.causal is not None else None

    @property
    def passed(self) -> bool:
        return all_passed(self.checks)

    @property
    def failures(self) -> tuple[str, ...]:
        return reasons(self.checks)

    def measured(self, metric: str) -> Any:
        """The value a check measured for ``metric`` (e.g. "iou", "peak_inside"), or None if none did."""
        return next((check.value for check in self.checks if check.metric == metric), None)
