"""Heatmap similarity against the baseline: the two maps brought onto one grid, then the package's one Spearman
similarity (core/evaluate/similarity.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gradcam_audit.core.evaluate.similarity import is_flat, spearman
from gradcam_audit.core.records.comparison import CompactHeatmap

if TYPE_CHECKING:
    import numpy as np


def _resample(heatmap: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resampling of an (h, w) map onto ``shape`` (cell centres aligned), for maps of different layers."""
    import numpy as np

    height, width = heatmap.shape

    def axis(size: int, target: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        position = np.clip((np.arange(target) + 0.5) * size / target - 0.5, 0, size - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, size - 1)
        return low, high, position - low

    rows_low, rows_high, row_weight = axis(height, shape[0])
    columns_low, columns_high, column_weight = axis(width, shape[1])
    top = heatmap[rows_low][:, columns_low] * (1 - column_weight) + heatmap[rows_low][:, columns_high] * column_weight
    bottom = heatmap[rows_high][:, columns_low] * (1 - column_weight) + heatmap[rows_high][:, columns_high] * column_weight
    return np.asarray(top * (1 - row_weight[:, None]) + bottom * row_weight[:, None])


def heatmap_similarity(first: CompactHeatmap, second: CompactHeatmap) -> tuple[float, str]:
    """Spearman rank correlation of two heatmaps (the second resampled onto the first's grid if they differ), with a
    note ("" when there is nothing to say). A flat map follows `spearman`'s rule (both flat: 1.0, one flat: 0.0),
    and the note says so."""
    candidate, baseline = first.decode(), second.decode()
    notes = []
    if candidate.shape != baseline.shape:
        baseline = _resample(baseline, (int(candidate.shape[0]), int(candidate.shape[1])))
        notes.append(f"the heatmaps have different resolutions ({second.width}×{second.height} in the baseline, "
                     f"{first.width}×{first.height} now): the baseline's was resampled before comparing")
    flat = [side for side, heatmap in (("the baseline's", baseline), ("this run's", candidate)) if is_flat(heatmap)]
    if flat:
        notes.append(f"{' and '.join(flat)} heatmap is constant (it ranks no pixel above another): "
                     + ("two constant maps count as the same (similarity 1)" if len(flat) == 2
                        else "a constant map shares no ranking with a varying one (similarity 0)"))
    return spearman(candidate, baseline), "; ".join(notes)
