"""What computing a job (core/jobs.py) gives back: the case's result and the arrays its pictures are drawn from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gradcam_audit.core.records.results import CaseResult

@dataclass(frozen=True)
class CaseOutcome:
    """A case's result plus the arrays a renderer needs for its overlay (not kept after rendering).

    ``duration_s`` is the case's share of its batch's time, so per-case timings add up to the real total.
    """

    result: CaseResult
    image: np.ndarray | None = None
    heatmap: np.ndarray | None = None
    duration_s: float = 0.0
    removed: dict[str, np.ndarray] = field(default_factory=dict)  # region name → the image without it (causal checks)
