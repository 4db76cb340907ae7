"""Records of a case's causal evidence beyond its regions: the deletion / insertion curves and the sweep outside the regions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gradcam_audit.core.records.codec import JsonForm


@dataclass(frozen=True)
class FaithfulnessCurves:
    """p(target) at each step of both curves, K + 1 points each (step 0: nothing deleted / nothing inserted)."""

    steps: int
    deletion: tuple[float, ...]
    insertion: tuple[float, ...]

    @property
    def deletion_auc(self) -> float:
        return area_under(self.deletion)

    @property
    def insertion_auc(self) -> float:
        return area_under(self.insertion)

    # The areas are what a reader of the file compares with max_deletion_auc / min_insertion_auc; read back, recomputed.
    JSON_FORM: ClassVar[JsonForm] = JsonForm(derived={"deletion_auc": lambda curves: curves.deletion_auc,
                                                      "insertion_auc": lambda curves: curves.insertion_auc})


def area_under(points: Sequence[float]) -> float:
    """Trapezoidal area under points spaced evenly over [0, 1]."""
    values = np.asarray(points, dtype=np.float64)
    if len(values) < 2:
        return float(values[0]) if len(values) else 0.0
    return float(((values[1:] + values[:-1]) / 2).sum() / (len(values) - 1))


Box = tuple[int, int, int, int]  # [x0, y0, x1, y1) in pixels of the original image


@dataclass(frozen=True)
class Hotspot:
    """A removed cell (the bounding box of its removed pixels) and the drop of p(target) it caused."""

    box: Box
    effect: float


@dataclass(frozen=True)
class OutsideSweep:
    """What removing the cells outside the required regions did to one case.

    ``max_effect`` is the largest drop of any removed cell (None when nothing was outside: ``skipped`` says why);
    ``cells`` the number of images computed; ``hotspots`` the strongest cells, strongest first.
    """

    max_effect: float | None
    cells: int
    cell_size: tuple[int, int]
    removal: str
    hotspots: tuple[Hotspot, ...] = ()
    refined_cell_size: tuple[int, int] | None = None
    skipped: str = ""
