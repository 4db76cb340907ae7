"""Computing one batch of jobs: read the images, explain, measure the causal checks, sweep outside the regions, judge.

Both executors use it: the local runner in its own process, each Ray actor in its own (each keeps its model cache).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from gradcam_audit.core.engine.explain import Explanation, explain
from gradcam_audit.core.evaluate.case_evaluation import evaluate_case
from gradcam_audit.core.evaluate.causal import CaseEffects, measure_effects
from gradcam_audit.core.evaluate.faithfulness import measure_faithfulness
from gradcam_audit.core.records.evidence import FaithfulnessCurves
from gradcam_audit.core.evaluate.outside_sweep import sweep_batch
from gradcam_audit.core.run.case_results import base_result, computed_result
from gradcam_audit.core.run.failures import failure_message
from gradcam_audit.core.files.images import read_rgb
from gradcam_audit.core.run.jobs import CaseOutcome
from gradcam_audit.core.run.kept_warnings import WarningLog, keep_warnings
from gradcam_audit.core.jobs import CaseJob, CaseKey
from gradcam_audit.core.run.models import ModelCache
from gradcam_audit.core.run.task_cases import case_task_target, task_head


def model_channels(model: Any) -> int:
    """The channels the model's (first) input takes; 3 when the model does not say."""
    try:
        return int(model.inputs[0].shape[-1] or 3)
    except (AttributeError, ValueError, IndexError, TypeError):
        return 3


class BatchComputer:
    """Computes the outcomes of batches of jobs, loading each model once (its ``models`` cache).

    Third-party warnings raised while it loads models and computes are kept once each in ``warnings``, for the run's
    notes (core/run/kept_warnings.py), not shown on every run; ``keep=False`` shows them as raised (a Ray actor, whose
    log would not reach the run's notes).
    """

    def __init__(self, batch_size: int = 32, models: ModelCache | None = None, *, keep: bool = True) -> None:
        self.batch_size = max(1, batch_size)
        self.models = models if models is not None else ModelCache()
        self.warnings = WarningLog()
        self.keep = keep

    def compute_batch(self, jobs: Sequence[CaseJob], images: Sequence[np.ndarray | BaseException] | None = None) -> dict[CaseKey, CaseOutcome]:
        """The outcomes of one batch of jobs (same batch key), by job key: every job gets exactly one outcome.

        ``images``, when given, are the jobs' decoded pictures (or the error that reading one raised), read ahead
        by an executor; otherwise they are read here.
        """
        if not self.keep:
            return self._compute_batch(jobs, images)
        with keep_warnings(self.warnings):
            return self._compute_batch(jobs, images)

    def _compute_batch(self, jobs: Sequence[CaseJob], images: Sequence[np.ndarray | BaseException] | None) -> dict[CaseKey, CaseOutcome]:
        started = time.perf_counter()
        outcomes: dict[CaseKey, CaseOutcome] = {}
        spec = jobs[0].spec
        try:
            model = self.models.get(spec.model)
            sha256 = self.models.sha256(spec.model.path)
        except Exception as error:  # noqa: BLE001 - a custom loader may raise anything; every case says why
            return {job.key: CaseOutcome(base_result(job, "error", failure_message(error))) for job in jobs}
        loaded: Sequence[np.ndarray | BaseException] = images if images is not None else [self.read_image(job, model) for job in jobs]
        pictures: list[np.ndarray] = []
        runnable: list[CaseJob] = []
        for job, picture in zip(jobs, loaded):
            if isinstance(picture, BaseException):  # one unreadable or huge image is that case's error alone
                outcomes[job.key] = CaseOutcome(base_result(job, "error", failure_message(picture)))
            else:
                pictures.append(picture)
                runnable.append(job)
        if runnable:
            outcomes.update(self._explain_and_score(model, sha256, runnable, pictures, started))
        return outcomes

    def read_image(self, job: CaseJob, model: Any | None = None) -> np.ndarray | BaseException:
        """The job's picture as the model's channels expect, or the error reading it raised (returned, not raised)."""
        try:
            channels = model_channels(model if model is not None else self.models.get(job.spec.model))
            return read_rgb(job.case.image, channels)
        except Exception as error:  # noqa: BLE001 - reported as that case's error by compute_batch
            return error

    def _explain_and_score(self, model: Any, sha256: str | None, runnable: list[CaseJob], images: list[np.ndarray],
                           started: float) -> dict[CaseKey, CaseOutcome]:
        outcomes: dict[CaseKey, CaseOutcome] = {}
        spec = runnable[0].spec
        try:
            explanations = explain(model, images, targets=[job.case.target for job in runnable], method=runnable[0].method,
                                   batch_size=self.batch_size, labels=spec.labels, **spec.engine.explain_options(),
                                   task=task_head(spec, model),
                                   task_targets=[case_task_target(job.case, (image.shape[1], image.shape[0]), spec)
                                                 for job, image in zip(runnable, images)])
        except Exception as error:  # noqa: BLE001 - TensorFlow raises many types; each becomes a readable case error
            if len(runnable) > 1:
                # One case's mistake (e.g. an out-of-range target) must not fail its batch-mates: retry alone.
                for job, image in zip(runnable, images):
                    outcomes.update(self._explain_and_score(model, sha256, [job], [image], time.perf_counter()))
                return outcomes
            return {job.key: CaseOutcome(base_result(job, "error", failure_message(error))) for job in runnable}
        measured = self._effects(model, runnable, images, explanations)
        curves, curves_error = self._faithfulness(model, runnable, images, explanations)
        swept = sweep_batch(model, spec, [job.case for job in runnable], images, explanations, batch_size=self.batch_size,
                            describe_error=failure_message)
        elapsed = (time.perf_counter() - started) / len(runnable)
        for job, image, explanation, causal, curve, beyond in zip(runnable, images, explanations, measured, curves, swept):
            problem = causal.error or (curves_error if job.case.has_faithfulness_check else None) or beyond.error
            if problem is not None:
                outcomes[job.key] = CaseOutcome(base_result(job, "error", problem), duration_s=elapsed)
                continue
            try:
                verdict = evaluate_case(job.spec, job.case, explanation, causal.effects, curve, beyond.sweep)
            except Exception as error:  # noqa: BLE001 - e.g. a mask that cannot be read: this case's error only
                outcomes[job.key] = CaseOutcome(base_result(job, "error", failure_message(error)), duration_s=elapsed)
                continue
            result = replace(computed_result(job, explanation, verdict, sha256, curve), outside=beyond.sweep)
            outcomes[job.key] = CaseOutcome(result, image, explanation.heatmap_full, elapsed, causal.removed)
        return outcomes

    def _effects(self, model: Any, jobs: list[CaseJob], images: list[np.ndarray], explanations: list[Explanation]) -> list[CaseEffects]:
        """The causal effects of every checked region of a batch: the edited images go through one batched forward pass."""
        if not any(region.has_effect_check for job in jobs for region in job.case.regions):
            return [CaseEffects() for _ in jobs]
        spec = jobs[0].spec
        try:
            return measure_effects(model, spec, [job.case for job in jobs], images,
                                   [explanation.target_index for explanation in explanations],
                                   [float(explanation.probabilities[explanation.target_index]) for explanation in explanations],
                                   layer=spec.layer, batch_size=self.batch_size, task=task_head(spec, model),
                                   task_targets=[explanation.task_target for explanation in explanations])
        except Exception as error:  # noqa: BLE001 - the forward pass on the edited images failed: each checked case says why
            message = f"the causal effects could not be measured: {failure_message(error)}"
            return [CaseEffects(error=message if any(region.has_effect_check for region in job.case.regions) else None) for job in jobs]

    def _faithfulness(self, model: Any, jobs: list[CaseJob], images: list[np.ndarray],
                      explanations: list[Explanation]) -> tuple[list[FaithfulnessCurves | None], str | None]:
        """The deletion / insertion curves of the batch's cases that ask for them, in one batched forward pass."""
        if not any(job.case.has_faithfulness_check for job in jobs):
            return [None] * len(jobs), None
        spec = jobs[0].spec
        usable = [explanation.degenerate is None and bool(np.all(np.isfinite(explanation.heatmap_full))) for explanation in explanations]
        cases = [job.case if ok else replace(job.case, max_deletion_auc=None, min_insertion_auc=None) for job, ok in zip(jobs, usable)]
        try:
            curves = measure_faithfulness(model, spec, cases, images, [explanation.heatmap_full for explanation in explanations],
                                          [explanation.target_index for explanation in explanations],
                                          [float(explanation.probabilities[explanation.target_index]) for explanation in explanations],
                                          layer=spec.layer, batch_size=self.batch_size, task=task_head(spec, model),
                                          task_targets=[explanation.task_target for explanation in explanations])
        except Exception as error:  # noqa: BLE001 - the forward pass on the edited images failed: each such case says why
            return [None] * len(jobs), f"the deletion / insertion curves could not be measured: {failure_message(error)}"
        return curves, None
