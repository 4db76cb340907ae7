"""Running cases: each model loaded once, cases that share model/layer/method computed in batches.

The runner knows the planned order of cases; when a case is asked for and not yet computed, it computes
it together with the next cases of the same batch key, so one-at-a-time callers (pytest items) still get
batched forward passes. Results are handed out once and then dropped, so memory stays flat.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gradcam_audit.core.engine.explain import Explanation, explain
from gradcam_audit.core.evaluate import class_index, evaluate_case
from gradcam_audit.core.images import read_rgb
from gradcam_audit.core.models import ModelCache
from gradcam_audit.core.results import CaseResult, ClassInfo
from gradcam_audit.core.spec.load import display_path
from gradcam_audit.core.spec.model import Case, Spec
from gradcam_audit.errors import GradcamAuditError


@dataclass(frozen=True)
class CaseJob:
    """One case to run with one method."""

    spec: Spec
    case: Case
    method: str

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of the job: (spec path, case id, method)."""
        return (str(self.spec.path), self.case.id, self.method)

    @property
    def batch_key(self) -> tuple[Any, ...]:
        spec = self.spec
        # labels belong in the key: a batch is explained with one spec's labels, so class names resolve alike.
        return (spec.model, spec.layer, spec.output, spec.score, self.method, spec.preprocess, spec.resize, spec.labels)


@dataclass(frozen=True)
class CaseOutcome:
    """A case's result plus the arrays a renderer needs for its overlay (not kept after rendering)."""

    result: CaseResult
    image: np.ndarray | None = None
    heatmap: np.ndarray | None = None


def _class_info(spec: Spec, index: int, explanation: Explanation | None = None) -> ClassInfo:
    if explanation is None:
        return ClassInfo(index, spec.label_of(index))
    return ClassInfo(index, spec.label_of(index), score=float(explanation.probabilities[index]), logit=float(explanation.scores[index]))


def base_result(job: CaseJob, status: str, reason: str) -> CaseResult:
    spec, case = job.spec, job.case
    return CaseResult(
        spec=display_path(spec.path),
        id=case.id,
        method=job.method,
        status=status,
        reason=reason,
        image=display_path(case.image),
        model=display_path(spec.model.path),
        preprocess=spec.preprocess.describe(),
        resize=spec.resize,
        tags=case.tags,
        xfail=case.xfail,
        expect_class=_class_info(spec, class_index(case.expect_class, spec.labels)) if case.expect_class is not None else None,
    )


def _framework_error(error: Exception) -> str:
    """A TensorFlow/NumPy failure on user input (wrong input shape, preprocessing that does not fit) in one line."""
    first_line = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    return (
        f"the model could not be run on this case ({type(error).__name__}: {first_line[:300]}); check that "
        "`preprocess`, `resize` and the image's channels match what the model expects"
    )


class AuditRunner:
    """Computes case outcomes in batches; one instance per process."""

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = max(1, batch_size)
        self.models = ModelCache()
        self._planned: list[CaseJob] = []
        self._position: dict[tuple[str, str, str], int] = {}
        self._groups: dict[tuple[str, str, str], object] = {}
        self._ready: dict[tuple[str, str, str], CaseOutcome] = {}
        self._done: set[tuple[str, str, str]] = set()

    def plan(self, jobs: Sequence[CaseJob], groups: Sequence[object] | None = None) -> None:
        """Tell the runner every job it may be asked for, in the order they will (probably) run.

        ``groups`` (one per job) limits batching to jobs of the same group: under pytest-xdist a worker
        only runs its own groups, and computing another worker's cases would be wasted work.
        """
        self._planned = list(jobs)
        self._position = {job.key: index for index, job in enumerate(self._planned)}
        self._groups = {job.key: group for job, group in zip(self._planned, groups)} if groups is not None else {}

    def run(self, job: CaseJob) -> CaseOutcome:
        """The outcome of one job, computing its batch if needed."""
        if job.key not in self._ready:
            self._compute(self._batch_starting_at(job))
        self._done.add(job.key)
        return self._ready.pop(job.key)

    def _batch_starting_at(self, job: CaseJob) -> list[CaseJob]:
        start = self._position.get(job.key)
        if start is None:
            return [job]
        batch = [job]
        group = self._groups.get(job.key)
        for candidate in self._planned[start + 1 :]:
            if len(batch) >= self.batch_size:
                break
            if (
                candidate.batch_key == job.batch_key
                and self._groups.get(candidate.key) == group
                and candidate.key not in self._ready
                and candidate.key not in self._done
            ):
                batch.append(candidate)
        return batch

    def _compute(self, jobs: list[CaseJob]) -> None:
        started = time.perf_counter()
        spec = jobs[0].spec
        try:
            model = self.models.get(spec.model)
            sha256 = self.models.sha256(spec.model.path)
        except GradcamAuditError as error:
            for job in jobs:
                self._ready[job.key] = CaseOutcome(base_result(job, "error", str(error)))
            return
        images: list[np.ndarray] = []
        runnable: list[CaseJob] = []
        for job in jobs:
            try:
                images.append(read_rgb(job.case.image, self._channels(model)))
                runnable.append(job)
            except GradcamAuditError as error:
                self._ready[job.key] = CaseOutcome(base_result(job, "error", str(error)))
        if not runnable:
            return
        try:
            explanations = explain(
                model,
                images,
                layer=spec.layer,
                targets=[job.case.target for job in runnable],
                method=runnable[0].method,
                batch_size=self.batch_size,
                labels=spec.labels,
                output=spec.output,
                score=spec.score,
                preprocess=spec.preprocess,
                resize=spec.resize,
            )
        except Exception as error:  # noqa: BLE001 - TensorFlow raises many types; each becomes a readable case error
            if len(runnable) > 1:
                # One case's mistake (e.g. an out-of-range target) must not fail its batch-mates: retry alone.
                for job in runnable:
                    self._compute([job])
                return
            message = str(error) if isinstance(error, GradcamAuditError) else _framework_error(error)
            for job in runnable:
                self._ready[job.key] = CaseOutcome(base_result(job, "error", message))
            return
        elapsed = (time.perf_counter() - started) / len(runnable)
        for job, image, explanation in zip(runnable, images, explanations):
            verdict = evaluate_case(job.spec, job.case, explanation)
            result = base_result(job, "passed" if verdict.passed else "failed", verdict.reason)
            result = replace(
                result,
                layer=explanation.layer,
                layer_reason=explanation.layer_reason,
                score_kind=explanation.score_kind,
                predicted=_class_info(job.spec, explanation.predicted_index, explanation),
                target=_class_info(job.spec, explanation.target_index, explanation),
                regions=verdict.regions,
                degenerate=explanation.degenerate,
                image_size=explanation.geometry.original_size,
                model_sha256=sha256,
                duration_s=elapsed,
            )
            self._ready[job.key] = CaseOutcome(result, image, explanation.heatmap_full)

    @staticmethod
    def _channels(model: Any) -> int:
        try:
            return int(model.inputs[0].shape[-1] or 3)
        except (AttributeError, ValueError, IndexError, TypeError):
            return 3
