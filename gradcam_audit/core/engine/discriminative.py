"""Saying when a scorable heatmap still cannot answer "where did the model look for *this* class?"."""

from __future__ import annotations

import numpy as np

from gradcam_audit.core.engine.tokens import correlation

CORRELATION_LIMIT = 0.9
"""Maps of the target and of the best other class correlating above this are not class-discriminative."""

UNIFORM_LIMIT = 0.1
"""A map whose standard deviation is below this share of its mean is near uniform."""


def discrimination_warnings(
    method: str,
    class_specific: bool,
    heatmap: np.ndarray,
    contrast_heatmap: np.ndarray | None,
    target_name: str,
    contrast_name: str | None,
    alternative: str,
) -> tuple[str, ...]:
    """Warnings for one (h, w) heatmap after ReLU, each naming the method to try.

    Args:
        class_specific: False for a method that gives every class the same map (rollout, eigencam).
        contrast_heatmap: the same method's map for the best-scoring other class, or None when not computed.
    """
    warnings = []
    if not class_specific:
        warnings.append(
            f"not class-discriminative: {method} gives every class the same map, so it shows where the model looks, "
            f"not where it finds {target_name}; try {alternative} for a class-specific map"
        )
    elif contrast_heatmap is not None and contrast_name is not None:
        similarity = correlation(heatmap, contrast_heatmap)
        if similarity > CORRELATION_LIMIT:
            warnings.append(
                f"not class-discriminative: the {method} maps of {target_name} and {contrast_name} correlate at "
                f"{similarity:.2f} (> {CORRELATION_LIMIT}); try {alternative}"
            )
    mean = float(heatmap.mean())
    spread = float(heatmap.std()) / mean if mean > 0 else 0.0
    if mean > 0 and spread < UNIFORM_LIMIT:
        warnings.append(
            f"near-uniform heatmap: its spread (std / mean) is {spread:.3f} (< {UNIFORM_LIMIT}), so it hardly says where the "
            f"model looked; try {alternative}"
        )
    return tuple(warnings)
