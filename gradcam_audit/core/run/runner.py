"""Running cases: each model loaded once, cases that share model/layer/method computed in batches.

The runner knows the planned order of cases; when a case is asked for and not yet computed, it computes
it together with the next cases of the same batch key, so one-at-a-time callers (pytest items) still get
batched forward passes. Results are handed out once and then dropped, so memory stays flat.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from gradcam_audit.core.records.comparison import CompactHeatmap
from gradcam_audit.core.evaluate.causal import (
    CASCADE_CASES,
    CascadeStage,
    CaseEffects,
    GateEvidence,
    TransplantPair,
    measure_effects,
    randomized_copy,
    spearman,
    transplant,
    transplant_pairs,
    weighted_layers,
    cascade_counts,
)
from gradcam_audit.core.engine.explain import Explanation, explain
from gradcam_audit.core.engine.forward import forward_probabilities
from gradcam_audit.core.evaluate.case_evaluation import Verdict, class_index, evaluate_case
from gradcam_audit.core.evaluate.faithfulness import FaithfulnessCurves, measure_faithfulness
from gradcam_audit.core.run.images import read_rgb
from gradcam_audit.core.run.models import ModelCache, describe_user_error
from gradcam_audit.core.evaluate.outside_sweep import sweep_batch
from gradcam_audit.core.records.results import CaseResult, ClassInfo
from gradcam_audit.core.spec.load import display_path
from gradcam_audit.core.evaluate.regions import region_mask
from gradcam_audit.core.spec.model import Case, Gate, Spec
from gradcam_audit.core.run.task_cases import case_task_target, task_head, task_notes
from gradcam_audit.errors import GradcamAuditError


# How cases are computed (AuditRunner's ``executor``); the first is the default.
EXECUTORS: tuple[str, ...] = ("local", "serial", "ray")
# A streamed (Ray) run keeps at most this many batches of outcomes waiting for the caller: memory stays flat
# however many cases the run has.
STREAM_BUFFER_BATCHES = 4


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
        return (spec.model, spec.layer, spec.output, spec.score, self.method, spec.preprocess, spec.resize, spec.fitting_filter,
                spec.labels,
                spec.layer_grid, spec.prefix_tokens, spec.task, spec.detections)


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


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _class_info(spec: Spec, index: int, explanation: Explanation | None = None) -> ClassInfo:
    if explanation is None:
        return ClassInfo(index, spec.label_of(index))
    return ClassInfo(index, spec.label_of(index), score=_finite(explanation.probabilities[index]), logit=_finite(explanation.scores[index]))


def base_result(job: CaseJob, verdict: str, reason: str) -> CaseResult:
    """The part of a case's result known before (or without) computing it."""
    spec, case = job.spec, job.case
    return CaseResult(
        spec=display_path(spec.path),
        id=case.id,
        method=job.method,
        verdict=verdict,
        reason=reason,
        image=display_path(case.image),
        model=display_path(spec.model.path),
        preprocess=spec.preprocess.describe(),
        resize=spec.resize,
        resize_filter=spec.fitting_filter,
        expect_class=_class_info(spec, class_index(case.expect_class, spec.labels)) if case.expect_class is not None else None,
    )


def computed_result(job: CaseJob, explanation: Explanation, verdict: Verdict, model_sha256: str | None,
                    faithfulness: FaithfulnessCurves | None = None) -> CaseResult:
    """The result of a computed case: its verdict with what produced it (layer, method, classes, regions)."""
    return replace(
        base_result(job, verdict.status, verdict.reason),
        layer=explanation.layer,
        layer_reason=explanation.layer_reason,
        score_kind=explanation.score_kind,
        predicted=_class_info(job.spec, explanation.predicted_index, explanation),
        target=_class_info(job.spec, explanation.target_index, explanation),
        regions=verdict.regions,
        checks=verdict.checks,
        degenerate=explanation.degenerate,
        image_size=explanation.geometry.original_size,
        model_sha256=model_sha256,
        # Kept compactly (8-bit, at the layer's resolution) so a later run can be compared without this model.
        heatmap=CompactHeatmap.encode(explanation.heatmap) if explanation.degenerate is None else None,
        notes=explanation.warnings + task_notes(explanation, job.spec),
        faithfulness=faithfulness,
    )


def _raised_in_user_code(error: BaseException) -> bool:
    """Whether the deepest frame is the user's own code (a custom preprocess or loader), not ours or a library's."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return False
    filename = frames[-1].filename
    return "gradcam_audit" not in Path(filename).parts and "site-packages" not in filename and not filename.startswith("<")


def failure_message(error: BaseException) -> str:
    """Any failure while computing a case, in one line: ours verbatim, a user function's with its file:line,
    a TensorFlow/NumPy one with what to check."""
    if isinstance(error, GradcamAuditError):
        return str(error)
    if isinstance(error, MemoryError):
        return ("out of memory while computing this case (the image or the batch is too large for this machine); "
                "lower --gradcam-batch-size or use a smaller image")
    first_line = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    if _raised_in_user_code(error):
        return f"your function raised {describe_user_error(error)}"
    return (
        f"the model could not be run on this case ({type(error).__name__}: {first_line[:300]}); check that "
        "`preprocess`, `resize` and the image's channels match what the model expects"
    )


def _stream_failure(error: BaseException) -> str:
    """Why a streamed run stopped, as the reason of every case it did not bring back."""
    if isinstance(error, GradcamAuditError):  # ours says what to do (e.g. start the cluster, check the address)
        return f"the Ray executor failed: {error}"
    first_line = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    return f"the Ray executor failed: {type(error).__name__}: {first_line[:300]}"


class AuditRunner:
    """Computes case outcomes in batches; one instance per process."""

    def __init__(self, batch_size: int = 32, *, executor: str = "local", ray_address: str | None = None) -> None:
        """``executor``: "local" computes the next batch in a background thread while the caller handles this one
        (draws pictures, writes results); "serial" computes each batch only when asked; "ray" streams every planned
        job through Ray Data (core/run/ray_executor.py) and hands outcomes out as they arrive."""
        if executor not in EXECUTORS:
            raise ValueError(f"unknown executor {executor!r}")
        self.batch_size = max(1, batch_size)
        self.executor = executor
        self.ray_address = ray_address
        self.models = ModelCache()
        # _state guards the bookkeeping below, shared with the background thread; _compute_lock keeps TensorFlow work
        # to one thread at a time, so only reading, drawing and writing overlap the forward pass.
        self._state = threading.Condition()
        self._compute_lock = threading.Lock()
        self._in_flight: set[tuple[str, str, str]] = set()
        self._background: threading.Thread | None = None
        self._background_error: str | None = None
        self._planned: list[CaseJob] = []
        self._position: dict[tuple[str, str, str], int] = {}
        self._groups: dict[tuple[str, str, str], object] = {}
        self._ready: dict[tuple[str, str, str], CaseOutcome] = {}
        self._done: set[tuple[str, str, str]] = set()
        # Jobs the caller is waiting for: a streamed run holds back only while none of them is missing.
        self._awaited: set[tuple[str, str, str]] = set()
        # Groups computed one case at a time: after a worker crash, so the crash names the case that caused it.
        self._isolated: set[object] = set()

    def isolate(self, groups: Sequence[object]) -> None:
        """Compute the jobs of these groups one at a time (no batch-mates to take down, or to blame)."""
        self._isolated.update(groups)

    def plan(self, jobs: Sequence[CaseJob], groups: Sequence[object] | None = None) -> None:
        """Tell the runner every job it may be asked for, in the order they will (probably) run.

        ``groups`` (one per job) limits batching to jobs of the same group: under pytest-xdist a worker
        only runs its own groups, and computing another worker's cases would be wasted work.
        """
        self._planned = list(jobs)
        self._position = {job.key: index for index, job in enumerate(self._planned)}
        self._groups = {job.key: group for job, group in zip(self._planned, groups)} if groups is not None else {}

    def run(self, job: CaseJob) -> CaseOutcome:
        """The outcome of one job, computing its batch if no background computation has it or will bring it."""
        if self.executor == "ray" and self._background is None:
            self._start_ray_stream()
        with self._state:
            self._awaited.add(job.key)
            self._state.notify_all()  # a stream held back by its full buffer must go on until it brings this job
            while job.key not in self._ready and job.key in self._in_flight:
                self._state.wait(timeout=1.0)
            self._awaited.discard(job.key)
            batch = [] if job.key in self._ready else self._batch_starting_at(job)
            self._in_flight.update(member.key for member in batch)
        if batch:
            if self._background_error is not None:
                outcomes = {member.key: CaseOutcome(base_result(member, "error", self._background_error)) for member in batch}
            else:
                with self._compute_lock:
                    outcomes = self.compute_batch(batch)
            self._deliver(batch, outcomes)
        with self._state:
            self._done.add(job.key)
            outcome = self._ready.pop(job.key)
            self._state.notify_all()  # room in a streamed run's buffer
        if self.executor == "local":
            self._prefetch_after(job)
        return outcome

    def finish(self, timeout_s: float = 120.0) -> None:
        """Let a background batch end before the process does (a thread cut off inside TensorFlow at exit can abort
        the process and change its exit status). Ray's stream only waits on other processes, so it is not joined."""
        background = self._background
        if self.executor != "ray" and background is not None and background.is_alive():
            background.join(timeout_s)

    def _deliver(self, batch: Sequence[CaseJob], outcomes: dict[tuple[str, str, str], CaseOutcome]) -> None:
        with self._state:
            self._ready.update(outcomes)
            self._in_flight.difference_update(member.key for member in batch)
            self._state.notify_all()

    def _prefetch_after(self, job: CaseJob) -> None:
        """Start computing the next batch of ``job``'s group in the background (one batch ahead at most: bounded memory)."""
        start = self._position.get(job.key)
        if start is None or (self._background is not None and self._background.is_alive()):
            return
        group = self._groups.get(job.key)
        if group in self._isolated:  # after a crash every case runs alone, so a crash names the case that caused it
            return
        with self._state:
            following = next((candidate for candidate in self._planned[start + 1 :]
                              if self._groups.get(candidate.key) == group and candidate.key not in self._ready
                              and candidate.key not in self._done and candidate.key not in self._in_flight), None)
            if following is None:
                return
            batch = self._batch_starting_at(following)
            self._in_flight.update(member.key for member in batch)

        def compute() -> None:
            outcomes: dict[tuple[str, str, str], CaseOutcome] = {}
            try:
                with self._compute_lock:
                    outcomes = self.compute_batch(batch)
            finally:  # whatever happens, the jobs leave the in-flight set, so a waiting caller computes any it lacks
                self._deliver(batch, outcomes)

        self._background = threading.Thread(target=compute, name="gradcam-prefetch", daemon=True)
        self._background.start()

    def _start_ray_stream(self) -> None:
        """Hand every planned job to Ray Data at once (core/run/ray_executor.py); outcomes are filed as they stream back."""
        from gradcam_audit.core.run.ray_executor import ray_outcomes

        address = self.ray_address
        self._start_stream(lambda batches: ray_outcomes(batches, batch_size=self.batch_size, address=address))

    def _start_stream(self, source: Callable[[list[list[CaseJob]]], Iterable[tuple[tuple[str, str, str], CaseOutcome]]]) -> None:
        """Plan every pending job into batches, give them to ``source`` and file its (key, outcome) pairs from a
        background thread as they arrive.

        The outcomes carry pictures and heatmaps, so at most ``stream_buffer`` of them wait for the caller; the stream
        is held back beyond that (Ray Data then stops pulling work), unless the caller waits for a job the buffer
        lacks: a stream that brings jobs in another order than they are asked for is never deadlocked.
        """
        with self._state:
            pending = [job for job in self._planned if job.key not in self._ready and job.key not in self._done]
            batches: list[list[CaseJob]] = []
            for job in pending:
                if job.key not in self._in_flight:
                    batches.append(self._batch_starting_at(job))
                    self._in_flight.update(member.key for member in batches[-1])
        every_job = [member for batch in batches for member in batch]

        def stream() -> None:
            delivered: set[tuple[str, str, str]] = set()
            try:
                for key, outcome in source(batches):
                    with self._state:
                        while len(self._ready) >= self.stream_buffer and not (self._awaited - self._ready.keys()):
                            self._state.wait(timeout=1.0)
                        self._ready[key] = outcome
                        self._in_flight.discard(key)
                        delivered.add(key)
                        self._state.notify_all()
            except BaseException as error:  # noqa: BLE001 - e.g. no cluster at the address: every job not yet back says why
                self._background_error = _stream_failure(error)
            finally:
                # A job the stream never brought back is an error, never computed here instead: its own code may be
                # what killed a worker, and would then kill this process (and the run's report) too.
                if self._background_error is None and any(job.key not in delivered for job in every_job):
                    self._background_error = "the Ray executor ended without an outcome for this case (see the log for why)"
                self._deliver(every_job, {})

        self._background = threading.Thread(target=stream, name="gradcam-stream", daemon=True)
        self._background.start()

    @property
    def stream_buffer(self) -> int:
        """How many streamed outcomes may wait for the caller: a few batches, so the workers never wait on it."""
        return STREAM_BUFFER_BATCHES * self.batch_size

    def _batch_starting_at(self, job: CaseJob) -> list[CaseJob]:
        start = self._position.get(job.key)
        if start is None:
            return [job]
        batch = [job]
        group = self._groups.get(job.key)
        if group in self._isolated:
            return batch
        for candidate in self._planned[start + 1 :]:
            if len(batch) >= self.batch_size:
                break
            if (
                candidate.batch_key == job.batch_key
                and self._groups.get(candidate.key) == group
                and candidate.key not in self._ready
                and candidate.key not in self._done
                and candidate.key not in self._in_flight
            ):
                batch.append(candidate)
        return batch

    def compute_batch(self, jobs: Sequence[CaseJob], images: Sequence[np.ndarray | BaseException] | None = None) -> dict[tuple[str, str, str], CaseOutcome]:
        """The outcomes of one batch of jobs (same batch key), by job key: every job gets exactly one outcome.

        ``images``, when given, are the jobs' decoded pictures (or the error that reading one raised), read ahead
        by an executor; otherwise they are read here.
        """
        started = time.perf_counter()
        outcomes: dict[tuple[str, str, str], CaseOutcome] = {}
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
            channels = self._channels(model if model is not None else self.models.get(job.spec.model))
            return read_rgb(job.case.image, channels)
        except Exception as error:  # noqa: BLE001 - reported as that case's error by compute_batch
            return error

    def _explain_and_score(self, model: Any, sha256: str | None, runnable: list[CaseJob], images: list[np.ndarray],
                           started: float) -> dict[tuple[str, str, str], CaseOutcome]:
        outcomes: dict[tuple[str, str, str], CaseOutcome] = {}
        spec = runnable[0].spec
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
                resize_filter=spec.fitting_filter,
                layer_grid=spec.layer_grid,
                prefix_tokens=spec.prefix_tokens,
                task=task_head(spec, model),
                task_targets=[case_task_target(job.case, (image.shape[1], image.shape[0]), spec) for job, image in zip(runnable, images)],
            )
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

    def gate_evidence(self, spec: Spec, gate: Gate, method: str) -> GateEvidence:
        """The gate's causal numbers over the spec's valid cases: transplant flips and weight-randomisation similarity.

        Computed here because they need the images and the model; batched like the cases. Anything that cannot be
        computed makes the evidence an error (the gate is then an error, never a pass).
        """
        try:
            with self._compute_lock:
                return self._gate_evidence(spec, gate, method)
        except Exception as error:  # noqa: BLE001 - each failure becomes the gate's readable error
            return GateEvidence(error=failure_message(error))

    def _gate_evidence(self, spec: Spec, gate: Gate, method: str) -> GateEvidence:
        model = self.models.get(spec.model)
        images = [read_rgb(case.image, self._channels(model)) for case in spec.cases]
        flip_rate: float | None = None
        pairs: tuple[TransplantPair, ...] = ()
        similarity: float | None = None
        per_case: dict[str, float] = {}
        cascade: tuple[CascadeStage, ...] = ()
        if gate.max_transplant_flip_rate is not None and gate.transplant is not None:
            flip_rate, pairs = self._transplants(model, spec, gate, images)
        if gate.max_randomization_similarity is not None:
            similarity, per_case, cascade = self._randomization(model, spec, method, images)
        return GateEvidence(flip_rate, pairs, similarity, per_case, cascade=cascade,
                            cascade_case=spec.cases[0].id if cascade else "")

    def _transplants(self, model: Any, spec: Spec, gate: Gate, images: list[np.ndarray]) -> tuple[float, tuple[TransplantPair, ...]]:
        cases = spec.cases
        region_name = gate.transplant
        classes = [class_index(case.expect_class if case.expect_class is not None else case.target, spec.labels)  # type: ignore[arg-type]
                   for case in cases]
        masks = []
        for case, image in zip(cases, images):
            region = next(region for region in case.regions if region.name == region_name)
            masks.append(region_mask(region.shape, (image.shape[1], image.shape[0])))
        chosen = [(donor, recipient) for donor, recipient in transplant_pairs(classes, gate.transplant_pairs)
                  if images[donor].shape == images[recipient].shape]
        if not chosen:
            raise GradcamAuditError(f"no transplant pair: the gate needs cases of at least two classes with images of the same size "
                                    f"(region {region_name!r} is pasted at the same place)")
        options: dict[str, Any] = {"layer": spec.layer, "output": spec.output, "score": spec.score, "preprocess": spec.preprocess,
                                   "resize": spec.resize, "resize_filter": spec.fitting_filter, "batch_size": self.batch_size}
        targets = [case_task_target(case, (image.shape[1], image.shape[0]), spec) for case, image in zip(cases, images)]
        options["task"] = task_head(spec, model)  # segmentation / detection: each recipient keeps its own target
        before = forward_probabilities(model, images, **options, task_targets=targets).argmax(axis=1)
        edited = [transplant(images[recipient], images[donor], masks[donor]) for donor, recipient in chosen]
        after = forward_probabilities(model, edited, **options, task_targets=[targets[recipient] for _, recipient in chosen])

        def name(index: int) -> str:
            return spec.label_of(index) or str(index)

        pairs = tuple(TransplantPair(cases[donor].id, cases[recipient].id, classes[donor], int(before[recipient]),
                                     int(np.argmax(after[position])), float(after[position][classes[donor]]),
                                     (name(classes[donor]), name(int(before[recipient])), name(int(np.argmax(after[position])))))
                      for position, (donor, recipient) in enumerate(chosen))
        return sum(pair.flipped for pair in pairs) / len(pairs), pairs

    def _randomization(self, model: Any, spec: Spec, method: str,
                       images: list[np.ndarray]) -> tuple[float, dict[str, float], tuple[CascadeStage, ...]]:
        options: dict[str, Any] = {"method": method, "batch_size": self.batch_size, "labels": spec.labels, "output": spec.output,
                                   "score": spec.score, "preprocess": spec.preprocess, "resize": spec.resize,
                                   "resize_filter": spec.fitting_filter, "task": task_head(spec, model),
                                   "task_targets": [case_task_target(case, (image.shape[1], image.shape[0]), spec)
                                                    for case, image in zip(spec.cases, images)]}
        originals = explain(model, images, layer=spec.layer, targets=[case.target for case in spec.cases], **options)
        copy = randomized_copy(model)
        options |= {"layer": originals[0].layer, "task_targets": [original.task_target for original in originals]}
        randomized = explain(copy, images, targets=[original.target_index for original in originals], **options)
        per_case = {case.id: spearman(original.heatmap, other.heatmap)
                    for case, original, other in zip(spec.cases, originals, randomized)}
        cascade = self._cascade(model, copy, images[:CASCADE_CASES], originals[:CASCADE_CASES],
                                options | {"task_targets": options["task_targets"][:CASCADE_CASES]})
        return sum(per_case.values()) / len(per_case), per_case, cascade

    @staticmethod
    def _cascade(model: Any, copy: Any, images: list[np.ndarray], originals: list[Explanation],
                 options: dict[str, Any]) -> tuple[CascadeStage, ...]:
        """The cascading randomisation: the copy's fresh weights put back from the top layer down, one stage at a time,
        the trained weights kept below; each stage's maps compared with the trained model's. Informational (no check)."""
        trained_layers, fresh_layers = weighted_layers(model), weighted_layers(copy)
        if not fresh_layers or len(trained_layers) != len(fresh_layers):
            return ()  # a model Keras cloned into another layer structure: no stage can be matched
        trained = [layer.get_weights() for layer in trained_layers]
        fresh = [layer.get_weights() for layer in fresh_layers]
        total = len(fresh_layers)
        stages = []
        targets = [original.target_index for original in originals]
        try:
            for count in cascade_counts(total):
                for index, layer in enumerate(fresh_layers):
                    layer.set_weights(fresh[index] if index >= total - count else trained[index])
                maps = explain(copy, images, targets=targets, **options)
                similarity = sum(spearman(original.heatmap, other.heatmap) for original, other in zip(originals, maps)) / len(maps)
                stages.append(CascadeStage(count, total, fresh_layers[total - count].name, similarity,
                                           CompactHeatmap.encode(maps[0].heatmap) if maps[0].degenerate is None else None))
        finally:  # the copy is shared (causal.randomized_copy): it must leave as fresh as it came
            for index, layer in enumerate(fresh_layers):
                layer.set_weights(fresh[index])
        return tuple(stages)

    @staticmethod
    def _channels(model: Any) -> int:
        try:
            return int(model.inputs[0].shape[-1] or 3)
        except (AttributeError, ValueError, IndexError, TypeError):
            return 3
