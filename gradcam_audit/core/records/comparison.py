"""Records of a comparison with a baseline run (the released model's audit), as results carry them.

Plain data with strict-JSON forms: the compact heatmap a case keeps for later comparisons, the regression rules
that applied to a case, and what comparing a case with its baseline found. Decided in ``core/baseline/compare.py``.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from gradcam_audit.core.records.checks import Check
from gradcam_audit.core.records.codec import JsonForm
from gradcam_audit.errors import ResultsError

if TYPE_CHECKING:
    import numpy as np

# A stored heatmap is at most this many cells a side: larger layer maps are averaged down in blocks, so a case
# costs a few KB of JSON at most (64 × 64 bytes → 5.5 KB of base64).
HEATMAP_MAX_SIDE = 64
HEATMAP_ENCODING = "uint8-base64"

# How a case compares with its baseline; "removed" is a baseline case the candidate no longer plans.
COMPARISON_STATUSES = ("regressed", "improved", "unchanged", "new", "removed")
# The statuses of a case that was compared with its baseline case (a regression includes a baseline pass that
# errored or did not run now).
COMPARED_STATUSES = ("regressed", "improved", "unchanged")


def _block_mean(heatmap: np.ndarray, max_side: int) -> np.ndarray:
    import numpy as np

    height, width = heatmap.shape
    factor = max(math.ceil(height / max_side), math.ceil(width / max_side), 1)
    if factor == 1:
        return heatmap
    rows, columns = math.ceil(height / factor), math.ceil(width / factor)
    padded = np.full((rows * factor, columns * factor), np.nan)
    padded[:height, :width] = heatmap
    return np.asarray(np.nanmean(padded.reshape(rows, factor, columns, factor), axis=(1, 3)))


@dataclass(frozen=True)
class CompactHeatmap:
    """A heatmap at the layer's resolution, scaled to its maximum and stored as 8-bit cells (row-major, base64).

    Attributes:
        width / height: cells across and down (the layer's resolution, or block means of it above 64 a side).
        data: base64 of ``width × height`` bytes, 0 = no attention, 255 = the map's maximum.
        peak: the map's maximum before scaling, so the values can be restored approximately.
    """

    width: int
    height: int
    data: str
    peak: float

    # The encoding is named first, so a reader of a later format (another encoding) refuses it instead of misreading it.
    JSON_FORM: ClassVar[JsonForm] = JsonForm(keys=("encoding", "width", "height", "peak", "data"),
                                             constants={"encoding": HEATMAP_ENCODING})

    @staticmethod
    def encode(heatmap: np.ndarray, max_side: int = HEATMAP_MAX_SIDE) -> CompactHeatmap | None:
        """The compact form of an (h, w) non-negative map; None when it has no finite positive maximum."""
        import numpy as np

        values = np.asarray(heatmap, dtype=np.float64)
        if values.ndim != 2 or values.size == 0 or not np.all(np.isfinite(values)):
            return None
        values = _block_mean(np.maximum(values, 0.0), max_side)
        peak = float(values.max())
        if not peak > 0:
            return None
        cells = np.clip(np.rint(values / peak * 255.0), 0, 255).astype(np.uint8)
        return CompactHeatmap(int(values.shape[1]), int(values.shape[0]), base64.b64encode(cells.tobytes()).decode("ascii"), peak)

    def decode(self) -> np.ndarray:
        """The (height, width) map as floats in [0, 1] (1 = the maximum).

        Raises:
            ResultsError: the data is not base64 of ``width × height`` bytes.
        """
        import numpy as np

        try:
            raw = base64.b64decode(self.data.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise ResultsError("heatmap.data is not base64 text") from None
        if self.width < 1 or self.height < 1 or len(raw) != self.width * self.height:
            raise ResultsError(f"heatmap.data holds {len(raw)} bytes, but the heatmap is {self.width}×{self.height} cells")
        return np.frombuffer(raw, dtype=np.uint8).reshape(self.height, self.width).astype(np.float64) / 255.0


@dataclass(frozen=True)
class RegionRules:
    """How far one region may move from its baseline: ``max_mass_rise`` (absolute, forbidden regions) and
    ``max_lift_drop`` (relative, required regions: 0.25 = the lift may fall by a quarter)."""

    max_mass_rise: float = 0.02
    max_lift_drop: float = 0.25


@dataclass(frozen=True)
class CaseRules:
    """The regression rules in force for one case (built-in defaults, then the ini, then the spec)."""

    must_still_pass: bool = True
    min_heatmap_similarity: float | None = None
    regions: tuple[tuple[str, RegionRules], ...] = ()  # region name → its rules; a JSON object by name in the file

    def region(self, name: str) -> RegionRules:
        return next((rules for region_name, rules in self.regions if region_name == name), RegionRules())


@dataclass(frozen=True)
class MetricDelta:
    """One number of a region in the baseline and now: ``delta`` = candidate − baseline; ``relative`` = delta ÷ baseline."""

    subject: str
    role: str
    metric: str  # "mass" | "lift"
    baseline: float
    candidate: float
    delta: float
    relative: float | None


@dataclass(frozen=True)
class BaselineComparison:
    """What comparing one case with its baseline found, decided in ``core/baseline/compare.py``.

    Attributes:
        status: one of COMPARISON_STATUSES but "removed" ("new": the baseline has no result for this case).
        regressed: whether a regression check failed (the case then fails because of the baseline).
        checks: the regression checks, decided (also part of the case's verdict).
        deltas: each region's mass and lift in the baseline and now.
        heatmap_similarity: Spearman rank correlation of the two heatmaps (None when either is missing).
        baseline_status / baseline_verdict / baseline_model_sha256: the baseline case's final status, computed
            verdict and model file hash.
        verdict_before / reason_before: the candidate's own verdict and reason, before the baseline's checks.
        images: the baseline case's pictures, relative to its results file's folder (``source``-th baseline file).
        notes: things worth knowing (the same model on both sides, a different layer, a heatmap missing).
        heatmap: the baseline case's compact heatmap, so a comparison shows the baseline's picture even when its
            run kept no picture files (an inline report, a shard).
    """

    status: str
    regressed: bool
    checks: tuple[Check, ...] = ()
    deltas: tuple[MetricDelta, ...] = ()
    heatmap_similarity: float | None = None
    baseline_status: str = ""
    baseline_verdict: str = ""
    baseline_model_sha256: str | None = None
    verdict_before: str = ""
    reason_before: str = ""
    images: dict[str, str] = field(default_factory=dict)
    source: int = 0
    notes: tuple[str, ...] = ()
    heatmap: CompactHeatmap | None = None

    # The baseline's heatmap is written only where the baseline case kept one.
    JSON_FORM: ClassVar[JsonForm] = JsonForm(omitted={"heatmap": lambda comparison: comparison.heatmap is None},
                                             choices={"status": COMPARISON_STATUSES})


@dataclass(frozen=True)
class RemovedCase:
    """A baseline case the candidate does not plan any more (by spec path, case id and method)."""

    spec: str
    id: str
    method: str
    baseline_status: str


@dataclass(frozen=True)
class BaselineSummary:
    """The run's side of a comparison: which baseline files, which cases are gone since, and notes.

    ``folders`` are the baseline files' folders on this machine, known only where the baseline was read (the
    plugin, ``gradcam-audit compare``); they are never written to or read from a results file, so a crafted
    results file cannot name a folder to read pictures from.
    """

    sources: tuple[str, ...]
    schemas: tuple[int, ...] = ()
    removed: tuple[RemovedCase, ...] = ()
    notes: tuple[str, ...] = ()
    folders: tuple[Path, ...] = field(default=(), compare=False)

    JSON_FORM: ClassVar[JsonForm] = JsonForm(dropped=("folders",))  # never from a file: see above


@dataclass(frozen=True)
class BaselineTally:
    """How many cases a run compared with its baseline, and how the comparison ended for them."""

    compared: int = 0
    regressed: int = 0
    improved: int = 0
    unchanged: int = 0
    new: int = 0
    removed: int = 0

    @staticmethod
    def count(statuses: Iterable[str], removed: int) -> BaselineTally:
        """The tally of the cases' comparison statuses (one per compared case) and the baseline's removed cases."""
        counted = Counter(statuses)
        return BaselineTally(sum(counted[status] for status in COMPARED_STATUSES), counted["regressed"], counted["improved"],
                             counted["unchanged"], counted["new"], removed)
