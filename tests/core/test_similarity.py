"""core/evaluate/similarity.py: the one Spearman similarity, on hand-computed ranks, ties and flat maps, and the
baseline comparison's use of it (core/baseline/similarity.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcam_audit.core.baseline.similarity import heatmap_similarity
from gradcam_audit.core.evaluate.similarity import average_ranks, is_flat, spearman
from gradcam_audit.core.records.comparison import CompactHeatmap


def test_average_ranks_are_one_based_and_ties_share_their_mean_rank() -> None:
    # sorted: 10 → rank 1, 20 → rank 2, the three 30s hold ranks 3, 4, 5 → each 4
    assert average_ranks(np.array([10.0, 30.0, 20.0, 30.0, 30.0])).tolist() == [1.0, 4.0, 2.0, 4.0, 4.0]
    # a map is read row by row
    assert average_ranks(np.array([[0.5, 0.1], [0.9, 0.1]])).tolist() == [3.0, 1.5, 4.0, 1.5]


def test_spearman_equals_the_textbook_formula_without_ties() -> None:
    # ranks (1, 2, 3, 4) and (1, 3, 2, 4): squared rank differences sum to 2, so 1 - 6·2 / (4·(16 - 1)) = 0.8
    assert spearman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 30.0, 20.0, 40.0])) == pytest.approx(0.8)


def test_spearman_with_ties_is_the_correlation_of_the_mean_ranks() -> None:
    # ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4): centred products sum to 4.5, squares to 4.5 and 5 → √(4.5/5) = √0.9
    assert spearman(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(math.sqrt(0.9))


def test_spearman_sees_only_the_order() -> None:
    heatmap = np.array([[0.1, 0.4], [0.2, 0.9]])
    assert spearman(heatmap, np.exp(heatmap * 5)) == pytest.approx(1.0)
    assert spearman(heatmap, -heatmap) == pytest.approx(-1.0)


def test_flat_maps_follow_one_rule_both_flat_is_the_same_one_flat_shares_no_ranking() -> None:
    varying = np.array([[0.0, 1.0], [2.0, 3.0]])
    assert is_flat(np.full((2, 2), 0.7)) and not is_flat(varying)
    assert spearman(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0
    assert spearman(np.zeros((2, 2)), np.full((2, 2), 5.0)) == 1.0  # two flat maps at different levels rank alike: nothing
    assert spearman(np.zeros((2, 2)), varying) == 0.0
    assert spearman(varying, np.ones((2, 2))) == 0.0
    assert all(math.isfinite(spearman(first, second)) for first in (np.zeros(4), varying) for second in (np.zeros(4), varying))


def test_spearman_refuses_maps_of_different_sizes() -> None:
    with pytest.raises(ValueError, match="same size"):
        spearman(np.zeros(4), np.zeros(5))


def test_the_baseline_comparison_scores_a_constant_heatmap_by_the_same_rule_and_says_so() -> None:
    constant = CompactHeatmap.encode(np.ones((4, 4)))
    varying = CompactHeatmap.encode(np.arange(16, dtype=float).reshape(4, 4) + 1)
    assert constant is not None and varying is not None
    both, both_note = heatmap_similarity(constant, constant)
    assert both == 1.0 and "constant" in both_note
    one, one_note = heatmap_similarity(constant, varying)
    assert one == 0.0 and "this run's heatmap is constant" in one_note
    assert heatmap_similarity(varying, constant)[1].startswith("the baseline's heatmap is constant")
