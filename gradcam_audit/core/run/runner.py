"""Running cases: each model loaded once, cases that share model/layer/method computed in batches.

The runner knows the planned order of cases; when a case is asked for and not yet computed, it computes
it together with the next cases of the same batch key, so one-at-a-time callers (pytest items) still get
batched forward passes. Results are handed out once and then dropped, so memory stays flat.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from gradcam_audit.core.evaluate.causal import GateEvidence
from gradcam_audit.core.run.batch import BatchComputer
from gradcam_audit.core.run.case_results import base_result
from gradcam_audit.core.run.failures import stream_failure
from gradcam_audit.core.run.gate_experiments import gate_evidence
from gradcam_audit.core.run.jobs import CaseOutcome
from gradcam_audit.core.run.kept_warnings import keep_warnings
from gradcam_audit.core.jobs import CaseJob, CaseKey
from gradcam_audit.core.run.ray_executor import disconnect_from_ray, ray_outcomes
from gradcam_audit.core.spec.model import Gate, Spec

# CaseOutcome is also reached through this module (the runner's output).
__all__ = ["EXECUTORS", "STREAM_BUFFER_BATCHES", "AuditRunner", "CaseOutcome"]

# How cases are computed (AuditRunner's ``executor``); the first is the default.
EXECUTORS: tuple[str, ...] = ("local", "serial", "ray")
# A streamed (Ray) run keeps at most this many batches of outcomes waiting for the caller: memory stays flat
# however many cases the run has.
STREAM_BUFFER_BATCHES = 4
# How long the end of a run waits for a Ray stream to end before ending the connection (one that brought every outcome
# ends at once; an interrupted run's may never end, and Ray's exit handler then ends the connection).
RAY_STREAM_END_S = 10.0


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
        self.batches = BatchComputer(self.batch_size)  # computes batches, keeping each model loaded
        self.models = self.batches.models
        # _state guards the bookkeeping below, shared with the background thread; _compute_lock keeps TensorFlow work
        # to one thread at a time, so only reading, drawing and writing overlap the forward pass.
        self._state = threading.Condition()
        self._compute_lock = threading.Lock()
        self._in_flight: set[CaseKey] = set()
        self._background: threading.Thread | None = None
        self._background_error: str | None = None
        self._planned: list[CaseJob] = []
        self._position: dict[CaseKey, int] = {}
        self._groups: dict[CaseKey, object] = {}
        self._ready: dict[CaseKey, CaseOutcome] = {}
        self._done: set[CaseKey] = set()
        # Jobs the caller is waiting for: a streamed run holds back only while none of them is missing.
        self._awaited: set[CaseKey] = set()
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
        the process and change its exit status). A Ray stream that brought every outcome ends at once; it is given
        a few seconds (an interrupted run may hold it back for good), then this thread ends the Ray connection."""
        background = self._background
        if self.executor == "ray":
            if background is not None:
                background.join(RAY_STREAM_END_S)
            if background is None or not background.is_alive():
                disconnect_from_ray()  # else Ray's own exit handler does it
            return
        if background is not None and background.is_alive():
            background.join(timeout_s)

    def _deliver(self, batch: Sequence[CaseJob], outcomes: dict[CaseKey, CaseOutcome]) -> None:
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
            outcomes: dict[CaseKey, CaseOutcome] = {}
            try:
                with self._compute_lock:
                    outcomes = self.compute_batch(batch)
            finally:  # whatever happens, the jobs leave the in-flight set, so a waiting caller computes any it lacks
                self._deliver(batch, outcomes)

        self._background = threading.Thread(target=compute, name="gradcam-prefetch", daemon=True)
        self._background.start()

    def _start_ray_stream(self) -> None:
        """Hand every planned job to Ray Data at once (core/run/ray_executor.py); outcomes are filed as they stream back."""
        address = self.ray_address
        self._start_stream(lambda batches: ray_outcomes(batches, batch_size=self.batch_size, address=address))

    def _start_stream(self, source: Callable[[list[list[CaseJob]]], Iterable[tuple[CaseKey, CaseOutcome]]]) -> None:
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
            delivered: set[CaseKey] = set()
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
                self._background_error = stream_failure(error)
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


    def compute_batch(self, jobs: Sequence[CaseJob], images: Sequence[np.ndarray | BaseException] | None = None) -> dict[CaseKey, CaseOutcome]:
        """The outcomes of one batch of jobs (same batch key), by job key (core/run/batch.py)."""
        return self.batches.compute_batch(jobs, images)

    def gate_evidence(self, spec: Spec, gate: Gate, method: str) -> GateEvidence:
        """The gate's causal numbers (core/run/gate_experiments.py), computed while no batch holds TensorFlow."""
        with self._compute_lock, keep_warnings(self.batches.warnings):
            return gate_evidence(self.models, spec, gate, method, self.batch_size)
