"""A streamed run (the Ray executor's path through the runner) keeps a bounded number of finished outcomes waiting for
the caller, whatever the number of cases, and never deadlocks when outcomes arrive in another order than asked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from gradcam_audit.core.runner import AuditRunner, CaseJob, CaseOutcome, base_result
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
