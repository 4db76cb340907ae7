"""A streamed run (the Ray executor's path through the runner) keeps a bounded number of finished outcomes waiting for
the caller, whatever the number of cases, and never deadlocks when outcomes arrive in another order than asked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from gradcam_audit.core.run.case_results import base_result
from gradcam_audit.core.run.runner import AuditRunner, CaseOutcome
from gradcam_audit.core.jobs import CaseJob
from gradcam_audit.core.spec.model import Case, ModelRef, Region, Shape, Spec


def _jobs(count: int) -> list[CaseJob]:
    spec = Spec(path=Path("s.yaml"), model=ModelRef(Path("m.keras")))
    region = Region("r", Shape("box", box=(0, 0, 1, 1)), min_mass=0.1)
    return [CaseJob(spec, Case(id=f"c{index}", image=Path(f"{index}.png"), regions=(region,)), "gradcam") for index in range(count)]


class _CountingSource:
    """Yields an outcome for every job of the batches it is given, in the given order, counting what it hands out."""

    def __init__(self, reverse: bool = False) -> None:
        self.reverse = reverse
        self.yielded = 0
        self.exhausted = threading.Event()

    def __call__(self, batches: list[list[CaseJob]]) -> Iterator[tuple[tuple[str, str, str], CaseOutcome]]:
        jobs = [job for batch in batches for job in batch]
        for job in reversed(jobs) if self.reverse else jobs:
            self.yielded += 1
            yield job.key, CaseOutcome(base_result(job, "error", f"outcome {job.case.id}"))
        self.exhausted.set()


def test_a_stream_waits_for_the_caller_once_its_buffer_is_full() -> None:
    runner = AuditRunner(batch_size=2, executor="serial")
    jobs = _jobs(200)
    runner.plan(jobs)
    source = _CountingSource()
    runner._start_stream(source)
    # Without the buffer the source would hand out all 200 outcomes at once; with it, it stops a few batches ahead.
    assert not source.exhausted.wait(timeout=1.0)
    assert runner.stream_buffer <= source.yielded <= runner.stream_buffer + 1
    reasons = [runner.run(job).result.reason for job in jobs]
    assert reasons == [f"outcome {job.case.id}" for job in jobs]
    assert source.exhausted.is_set() and source.yielded == 200


def test_a_stream_in_another_order_than_asked_still_brings_every_outcome() -> None:
    runner = AuditRunner(batch_size=2, executor="serial")
    jobs = _jobs(60)
    runner.plan(jobs)
    source = _CountingSource(reverse=True)  # the first job asked for comes last: the buffer must not hold it back
    runner._start_stream(source)
    reasons = [runner.run(job).result.reason for job in jobs]
    assert reasons == [f"outcome {job.case.id}" for job in jobs]


class _WorkerGone(BaseException):
    """Not an Exception: what a dying worker's machinery may raise through the stream."""


def _stopping_source(how: str) -> object:
    """Brings back the first job's outcome only, then ends quietly ("ends") or raises a BaseException ("raises")."""

    def source(batches: list[list[CaseJob]]) -> Iterator[tuple[tuple[str, str, str], CaseOutcome]]:
        first = batches[0][0]
        yield first.key, CaseOutcome(base_result(first, "passed", "brought back"))
        if how == "raises":
            raise _WorkerGone("the worker went away")

    return source


def test_jobs_a_stream_never_brought_back_are_errors_naming_it_never_computed_in_this_process() -> None:
    # Before: such jobs were computed here, in the caller's process, with the user's model and preprocess; a case
    # that killed its Ray worker then killed the pytest process too (no results.json). Here the model file does not
    # exist, so a job computed here would say so instead.
    for how, words in (("ends", "ended without an outcome for this case"), ("raises", "_WorkerGone: the worker went away")):
        runner = AuditRunner(batch_size=2, executor="serial")
        jobs = _jobs(5)
        runner.plan(jobs)
        runner._start_stream(_stopping_source(how))  # type: ignore[arg-type]
        results = [runner.run(job).result for job in jobs]
        assert [result.verdict for result in results] == ["passed"] + ["error"] * 4, how
        for result in results[1:]:
            assert result.reason.startswith("the Ray executor") and words in result.reason, (how, result.reason)
