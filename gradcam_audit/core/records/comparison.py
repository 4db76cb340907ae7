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
from typing import TYPE_CHECKING, Any

from gradcam_audit.core.records.checks import Check
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

    def to_dict(self) -> dict[str, Any]:
        return {"encoding": HEATMAP_ENCODING, "width": self.width, "height": self.height, "peak": self.peak, "data": self.data}

    @staticmethod
    def from_dict(data: Any) -> CompactHeatmap | None:
        if data is None:
            return None
        if not isinstance(data, dict) or data.get("encoding") != HEATMAP_ENCODING:
            found = data.get("encoding") if isinstance(data, dict) else type(data).__name__
            raise ResultsError(f"heatmap: unknown encoding {found!r} (this version reads {HEATMAP_ENCODING!r})")
        return CompactHeatmap(int(data["width"]), int(data["height"]), str(data["data"]), float(data.get("peak") or 0.0))


@dataclass(frozen=True)
class RegionRules:
    """How far one region may move from its baseline: ``max_mass_rise`` (absolute, forbidden regions) and
    ``max_lift_drop`` (relative, required regions: 0.25 = the lift may fall by a quarter)."""

    max_mass_rise: float = 0.02
    max_lift_drop: float = 0.25

    def to_dict(self) -> dict[str, Any]:
        return {"max_mass_rise": self.max_mass_rise, "max_lift_drop": self.max_lift_drop}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> RegionRules:
        return RegionRules(float(data["max_mass_rise"]), float(data["max_lift_drop"]))


@dataclass(frozen=True)
class CaseRules:
    """The regression rules in force for one case (built-in defaults, then the ini, then the spec)."""

    must_still_pass: bool = True
    min_heatmap_similarity: float | None = None
    regions: tuple[tuple[str, RegionRules], ...] = ()

    def region(self, name: str) -> RegionRules:
        return next((rules for region_name, rules in self.regions if region_name == name), RegionRules())

    def to_dict(self) -> dict[str, Any]:
        return {"must_still_pass": self.must_still_pass, "min_heatmap_similarity": self.min_heatmap_similarity,
                "regions": {name: rules.to_dict() for name, rules in self.regions}}

    @staticmethod
    def from_dict(data: Any) -> CaseRules | None:
        if data is None:
            return None
        similarity = data.get("min_heatmap_similarity")
        return CaseRules(bool(data.get("must_still_pass", True)), None if similarity is None else float(similarity),
                         tuple((str(name), RegionRules.from_dict(rules)) for name, rules in dict(data.get("regions", {})).items()))


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

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "role": self.role, "metric": self.metric, "baseline": self.baseline,
                "candidate": self.candidate, "delta": self.delta, "relative": self.relative}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> MetricDelta:
        relative = data.get("relative")
        return MetricDelta(str(data["subject"]), str(data["role"]), str(data["metric"]), float(data["baseline"]),
                           float(data["candidate"]), float(data["delta"]), None if relative is None else float(relative))


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "regressed": self.regressed,
            "checks": [check.to_dict() for check in self.checks],
            "deltas": [delta.to_dict() for delta in self.deltas],
            "heatmap_similarity": self.heatmap_similarity,
            "baseline_status": self.baseline_status,
            "baseline_verdict": self.baseline_verdict,
            "baseline_model_sha256": self.baseline_model_sha256,
            "verdict_before": self.verdict_before,
            "reason_before": self.reason_before,
            "images": dict(self.images),
            "source": self.source,
            "notes": list(self.notes),
            **({"heatmap": self.heatmap.to_dict()} if self.heatmap is not None else {}),
        }

    @staticmethod
    def from_dict(data: Any) -> BaselineComparison | None:
        if data is None:
            return None
        status = str(data["status"])
        if status not in COMPARISON_STATUSES:
            raise ResultsError(f"baseline.status {status!r} is not one of {', '.join(COMPARISON_STATUSES)}")
        similarity = data.get("heatmap_similarity")
        sha = data.get("baseline_model_sha256")
        return BaselineComparison(
            status=status,
            regressed=bool(data["regressed"]),
            checks=tuple(Check.from_dict(check) for check in data.get("checks", [])),
            deltas=tuple(MetricDelta.from_dict(delta) for delta in data.get("deltas", [])),
            heatmap_similarity=None if similarity is None else float(similarity),
            baseline_status=str(data.get("baseline_status", "")),
            baseline_verdict=str(data.get("baseline_verdict", "")),
            baseline_model_sha256=None if sha is None else str(sha),
            verdict_before=str(data.get("verdict_before", "")),
            reason_before=str(data.get("reason_before", "")),
            images={str(kind): str(path) for kind, path in dict(data.get("images", {})).items()},
            source=int(data.get("source", 0)),
            notes=tuple(str(note) for note in data.get("notes", ())),
            heatmap=CompactHeatmap.from_dict(data.get("heatmap")),
        )


@dataclass(frozen=True)
class RemovedCase:
    """A baseline case the candidate does not plan any more (by spec path, case id and method)."""

    spec: str
    id: str
    method: str
    baseline_status: str

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "id": self.id, "method": self.method, "baseline_status": self.baseline_status}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> RemovedCase:
        return RemovedCase(str(data["spec"]), str(data["id"]), str(data["method"]), str(data.get("baseline_status", "")))


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

    def to_dict(self) -> dict[str, Any]:
        return {"sources": list(self.sources), "schemas": list(self.schemas), "removed": [case.to_dict() for case in self.removed],
                "notes": list(self.notes)}

    @staticmethod
    def from_dict(data: Any) -> BaselineSummary | None:
        if data is None:
            return None
        return BaselineSummary(
            sources=tuple(str(source) for source in data.get("sources", ())),
            schemas=tuple(int(schema) for schema in data.get("schemas", ())),
            removed=tuple(RemovedCase.from_dict(case) for case in data.get("removed", ())),
            notes=tuple(str(note) for note in data.get("notes", ())),
        )


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
