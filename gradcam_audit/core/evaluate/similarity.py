"""How alike two heatmaps rank their pixels: Spearman's rank correlation, the one similarity of the package
(the weight-randomisation check and the comparison with a baseline both use it)."""

from __future__ import annotations

import numpy as np


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of the values (any shape, read flat), ties sharing their mean rank (as Spearman's coefficient needs).

    Example: ``[3, 1, 3, 2]`` → ``[3.5, 1, 3.5, 2]``.
    """
    flat = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(flat, kind="mergesort")
    sorted_values = flat[order]
    boundaries = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [flat.size]))
    mean_ranks = (starts + ends + 1) / 2.0  # the tie group holds ranks start+1 … end: their mean
    ranks = np.empty(flat.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_ranks, ends - starts)
    return ranks


def is_flat(heatmap: np.ndarray) -> bool:
    """Whether every value of the map is the same: it ranks no pixel above another."""
    values = np.asarray(heatmap)
    return values.size == 0 or bool(np.ptp(values) == 0)


def spearman(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman rank correlation of two maps of the same shape (read flat), in [-1, 1]; never NaN.

    A flat (constant) map ranks nothing, so the coefficient's formula divides by zero there. The rule, the same for
    every caller: two flat maps are the same explanation (1.0: nothing changed between them), a flat map against a
    varying one shares no ranking with it (0.0). Both uses want that reading: the weight-randomisation check must
    count an explanation that stays flat when the weights are scrambled as unchanged (it did not depend on them), and
    the baseline comparison must count a map that went flat, or stopped being flat, as a lost ranking (a regression
    under ``min_heatmap_similarity`` > 0), while two flat maps did not change.

    Raises:
        ValueError: the maps have different numbers of values.
    """
    first_values = np.asarray(first, dtype=np.float64).ravel()
    second_values = np.asarray(second, dtype=np.float64).ravel()
    if first_values.size != second_values.size:
        raise ValueError(f"spearman needs maps of the same size, got {first_values.size} and {second_values.size} values")
    first_flat, second_flat = is_flat(first_values), is_flat(second_values)
    if first_flat or second_flat:
        return 1.0 if first_flat and second_flat else 0.0
    ranks_first, ranks_second = average_ranks(first_values), average_ranks(second_values)
    ranks_first -= ranks_first.mean()
    ranks_second -= ranks_second.mean()
    denominator = float(np.sqrt((ranks_first**2).sum() * (ranks_second**2).sum()))
    return float(np.clip((ranks_first * ranks_second).sum() / denominator, -1.0, 1.0))
