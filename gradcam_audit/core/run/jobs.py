"""The unit of work of a run: one case with one method (a job) and what computing it gives back (an outcome)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.core.spec.model import Case, Spec

# A job's identity: (spec path, case id, method).
CaseKey = tuple[str, str, str]


@dataclass(frozen=True)
class CaseJob:
    """One case to run with one method."""

    spec: Spec
    case: Case
    method: str

    @property
    def key(self) -> CaseKey:
        """Identity of the job: (spec path, case id, method)."""
        return (str(self.spec.path), self.case.id, self.method)

    @property
    def batch_key(self) -> tuple[Any, ...]:
        """Jobs with equal keys are explained together: same model, engine settings and method.

        labels belong in the key: a batch is explained with one spec's labels, so class names resolve alike.
        """
        return (self.spec.model, self.spec.engine, self.method, self.spec.labels, self.spec.task, self.spec.detections)


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
