"""The unit of work the plan hands to a run: one case with one method (a job), and its identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
