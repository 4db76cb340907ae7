"""Running an audit's cases on Ray Data: images read in tasks, explained and scored by a pool of actors.

Each actor loads each model once; outcomes stream back as they finish, so the caller fills the same ledger a
local run fills. A worker crash costs only the cases it was running: they are retried one at a time, and a case
that crashes its worker again becomes an error naming the crash.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import pickle
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from gradcam_audit.core.run.batch import BatchComputer, model_channels
from gradcam_audit.core.run.case_results import base_result
from gradcam_audit.core.files.images import read_rgb
from gradcam_audit.core.run.jobs import CaseOutcome
from gradcam_audit.core.jobs import CaseJob, CaseKey
from gradcam_audit.errors import GradcamAuditError

INSTALL_HINT = "install the extra: pip install -e '.[ray]'"
# Whether ray_outcomes connected this process to Ray (a local cluster started, or an address joined): then
# disconnect_from_ray() ends that connection. Ray's own connection is one per process, and so is this.
_connected_here = False


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the executor needs Ray Data, not only Ray core
    except ImportError as error:
        raise GradcamAuditError(f"the Ray executor needs Ray Data, which cannot be imported ({error}); {INSTALL_HINT}") from None
    return ray


def _read_picture(job: CaseJob) -> np.ndarray | BaseException:
    try:
        # Three channels, what nearly every model takes; an actor reads again for a model that takes another count.
        return read_rgb(job.case.image, 3)
    except Exception as error:  # noqa: BLE001 - carried to the actor, which reports it as this case's error
        return error


def _shipped_jobs(holder: list[Any]) -> list[CaseJob]:
    """The jobs, fetched from the object store. The reference travels inside a list so that no stage resolves it on
    the way (Ray resolves a bare reference passed as an argument in some places and not in others)."""
    import ray

    return list(ray.get(holder[0]))


def _read_pictures(rows: dict[str, np.ndarray], holder: list[Any]) -> dict[str, np.ndarray]:
    """Ray Data stage (tasks): each row's picture, pickled, since pictures differ in size and may be errors."""
    jobs = _shipped_jobs(holder)
    pictures = [pickle.dumps(_read_picture(jobs[int(index)])) for index in rows["index"]]
    return {**rows, "picture": np.array(pictures, dtype=object)}


def _limit_threads_to_this_actors_cpus() -> None:
    """TensorFlow sizes its thread pools for the whole machine; two actors on two cores would then fight over every
    core. Each actor uses as many threads as the CPUs Ray gave it (set before TensorFlow starts its runtime)."""
    import ray

    cpus = max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))  # type: ignore[no-untyped-call]
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(cpus)
    except RuntimeError:  # the runtime already started in this process (a reused worker): its pools stay as they are
        pass


class RestartedAfterCrash(RuntimeError):
    """Raised by a pipeline explainer that Ray restarted after its process died (see _Explainer)."""


class _Explainer:
    """One per Ray actor. Its batch computer keeps every model it loads, so each model is loaded once per actor.

    ``refuse_after_restart``: Ray Data restarts a crashed actor and retries its batch there, so a case that kills its
    worker every time would be retried forever. A restarted pipeline explainer refuses its work instead: the pipeline
    stops and ray_outcomes runs each unfinished case alone, where a crash names its case. (Ray Data's own switch,
    ``max_restarts=0``, is only accepted through arguments Ray deprecates and removes in 2.64.)
    """

    def __init__(self, holder: list[Any], batch_size: int, refuse_after_restart: bool = False) -> None:
        import ray

        with warnings.catch_warnings():  # Ray's property calls a deprecated accessor of its own
            warnings.simplefilter("ignore")
            self.restarted = refuse_after_restart and bool(ray.get_runtime_context().was_current_actor_reconstructed)
        if self.restarted:  # it will do no work: no TensorFlow, no model
            return
        _limit_threads_to_this_actors_cpus()
        self.jobs = _shipped_jobs(holder)
        # Serial within the actor: Ray Data already overlaps reading with explaining.
        self.batches = BatchComputer(batch_size, keep=False)  # its kept warnings would not reach the run's notes

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Ray Data stage (actors): explain and score the rows, each audit batch together; outcomes pickled."""
        if self.restarted:
            raise RestartedAfterCrash("a Ray worker of this audit crashed; its unfinished cases are retried one at a time")
        positions_by_batch: dict[int, list[int]] = {}
        for position, batch in enumerate(rows["batch"]):
            positions_by_batch.setdefault(int(batch), []).append(position)
        indices: list[int] = []
        outcomes: list[bytes] = []
        for positions in positions_by_batch.values():
            batch_indices = [int(rows["index"][position]) for position in positions]
            jobs = [self.jobs[index] for index in batch_indices]
            pictures = [pickle.loads(rows["picture"][position]) for position in positions]
            computed = self.batches.compute_batch(jobs, self._usable(jobs, pictures))
            indices += batch_indices
            outcomes += [pickle.dumps(computed[job.key]) for job in jobs]
        return {"index": np.array(indices, dtype=np.int64), "outcome": np.array(outcomes, dtype=object)}

    def explain_one(self, index: int) -> bytes:
        """One job alone (the retry after a crash): nothing else in this process to take down, or to blame."""
        job = self.jobs[index]
        return pickle.dumps(self.batches.compute_batch([job])[job.key])

    def _usable(self, jobs: list[CaseJob], pictures: list[Any]) -> list[Any] | None:
        """The pictures read ahead, or None (compute_batch reads them itself) unless the model takes three channels."""
        try:
            model = self.batches.models.get(jobs[0].spec.model)
        except Exception:  # noqa: BLE001 - compute_batch loads it again and reports the error for every case
            return None
        # The local run's own rule, so the channels are exactly those of a local run.
        return pictures if model_channels(model) == 3 else None


def _described(error: BaseException) -> str:
    """The error's type and first line, for a case's reason."""
    first_line = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    return f"{type(error).__name__}: {first_line[:300]}"


def _crash_reason(error: BaseException) -> str:
    return f"the Ray worker running this case crashed: {_described(error)}"


# How long joining a cluster may take before the run gives up on it: Ray itself retries an address that answers
# nothing for many minutes, in silence.
CONNECT_TIMEOUT_S = 45.0
_ADDRESS_FIX = ("start the cluster first (`ray start --head` on its head node) or check --gradcam-ray-address / "
                "RAY_ADDRESS (host:port of the head node's GCS, 6379 by default)")


class RayConnectionError(GradcamAuditError):
    """No Ray cluster answers at the given address; every case of the run is an error naming it."""


def _host_and_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a "host:port" or "ray://host:port" address; None for "auto", "local" or an unparsable one."""
    bare = address.split("://", 1)[1] if "://" in address else address
    host, separator, port = bare.rpartition(":")
    if not separator or not port.isdigit() or not host:
        return None
    return host.strip("[]"), int(port)


def _check_reachable(address: str) -> None:
    """Fail in seconds, not after Ray's silent minutes of retries, when nothing listens at ``address``."""
    import socket

    target = _host_and_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=10.0):
            pass
    except OSError as error:
        raise RayConnectionError(f"no Ray cluster answers at {address!r} ({error.strerror or error}); {_ADDRESS_FIX}") from None


def _connect(ray: Any, address: str | None, timeout_s: float = CONNECT_TIMEOUT_S) -> bool:
    """Join the given (or RAY_ADDRESS's) cluster or start a local one; True when this call did it.

    Raises:
        RayConnectionError: nothing answers at the address, or joining it took longer than ``timeout_s``.
    """
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    outcome: list[BaseException | None] = []

    def join(runtime_env: dict[str, Any] | None = None) -> None:
        try:
            ray.init(address=address, ignore_reinit_error=True, include_dashboard=False,
                     logging_level=logging.WARNING, configure_logging=True, runtime_env=runtime_env)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread, which reports it
            outcome.append(error)

    if not address or _host_and_port(address) is None:
        # A new local cluster (or "auto"): started in this thread, which outlives the run. Ray's processes die with
        # the thread that started them (PR_SET_PDEATHSIG), so a short-lived thread would take the cluster with it.
        # Ray starts its workers at niceness 15, which suits a cluster of its own; here they compete with the machine's
        # other work, and behind one busy process at normal priority they barely run (the Ray test took 716 s beside a
        # CPU hog on 2 cores, 70 s idle). They run at the priority of the run that started them; a cluster the user
        # runs keeps its own.
        join({"env_vars": {"RAY_worker_niceness": "0"}})
        if outcome[0] is not None:
            raise RayConnectionError(f"could not start or find a Ray cluster ({_described(outcome[0])}); {_ADDRESS_FIX}") from None
        return True
    _check_reachable(address)
    # Joining a cluster starts no process here, so it may wait in a thread of its own: a port that accepts
    # connections but is no Ray head makes ray.init wait for minutes.
    joining = threading.Thread(target=join, name="gradcam-ray-connect", daemon=True)
    joining.start()
    joining.join(timeout_s)
    if not outcome:
        raise RayConnectionError(f"the Ray cluster at {address!r} did not answer within "
                                 f"{timeout_s:.0f} s; {_ADDRESS_FIX}")
    if outcome[0] is not None:
        raise RayConnectionError(f"could not join the Ray cluster at {address!r} ({_described(outcome[0])}); {_ADDRESS_FIX}") from None
    return True


def _streamed(ray: Any, batches: Sequence[Sequence[CaseJob]], jobs_ref: Any, *,
              batch_size: int, workers: int) -> Iterator[tuple[int, bytes]]:
    """(job index, pickled outcome) as each arrives, through the Ray Data pipeline (read tasks, explainer actors)."""
    # Rows in batch order, each tagged with its batch: Ray cuts the rows into batches of `batch_size`, and the
    # actor explains together the rows of one audit batch that arrive together.
    numbers = [number for number, batch in enumerate(batches) for _ in batch]
    rows = [{"index": index, "batch": number} for index, number in enumerate(numbers)]
    # One block per audit batch, so every actor gets work (Ray Data would otherwise put a small audit in one block).
    dataset = ray.data.from_items(rows, override_num_blocks=max(1, len(batches)))
    # Reading is light: no CPU reserved, so read tasks are never starved by the actors holding every CPU.
    # Reading concurrency is bounded: each read task needs a worker process of its own.
    read_pool = ({"compute": ray.data.TaskPoolStrategy(size=max(1, workers))} if hasattr(ray.data, "TaskPoolStrategy")
                 else {"concurrency": max(1, workers)})  # the spelling of Ray before 2.51
    dataset = dataset.map_batches(_read_pictures, fn_kwargs={"holder": [jobs_ref]}, batch_size=batch_size, num_cpus=0, **read_pool)
    # A crashed actor is restarted by Ray Data and then refuses its batch (_Explainer): the retry in ray_outcomes
    # isolates each unfinished case instead of retrying a poisoned batch forever.
    dataset = dataset.map_batches(_Explainer, fn_constructor_kwargs={"holder": [jobs_ref], "batch_size": batch_size,
                                                                     "refuse_after_restart": True},
                                  compute=ray.data.ActorPoolStrategy(size=workers), batch_size=batch_size, num_cpus=1)
    for row in dataset.iter_rows():
        yield int(row["index"]), row["outcome"]


def _isolated(ray: Any, jobs_ref: Any, indices: list[int], *, batch_size: int, workers: int) -> Iterator[tuple[int, bytes | BaseException]]:
    """Each job alone, on plain actors holding one call at a time: a crash names exactly the job that caused it.

    A job whose actor dies is tried once more on a fresh actor; only a job that kills that one too is blamed (the
    first death may have been an out-of-memory kill of the whole process, not this job's doing). Actors are never
    restarted by Ray: a fresh one is started only while jobs wait, so a crash at the end costs no start-up.
    """
    explainer = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(_Explainer)
    waiting = list(indices)
    running: dict[Any, tuple[Any, int]] = {}
    failures: dict[int, int] = {}

    def give_work(actor: Any) -> None:
        if waiting:
            index = waiting.pop(0)
            running[actor.explain_one.remote(index)] = (actor, index)

    # No more actors than batches' worth of jobs: a few jobs after a crash are quicker on one actor than the start
    # of a second (each loads TensorFlow and the model).
    for _ in range(min(workers, math.ceil(len(indices) / batch_size))):
        give_work(explainer.remote([jobs_ref], batch_size))
    while running:
        (finished,), _ = ray.wait(list(running), num_returns=1)
        actor, index = running.pop(finished)
        try:
            result: bytes | BaseException = ray.get(finished)
        except Exception as error:  # noqa: BLE001 - RayActorError, ActorDiedError, WorkerCrashedError, ObjectLostError...
            failures[index] = failures.get(index, 0) + 1
            if failures[index] >= 2:
                yield index, error
            else:
                waiting.append(index)
            try:
                ray.kill(actor, no_restart=True)  # dead already, or unusable: its CPU goes to the fresh actor
            except Exception:  # noqa: BLE001 - an actor Ray already forgot cannot be killed twice
                pass
            if not waiting:
                continue
            actor = explainer.remote([jobs_ref], batch_size)
        else:
            yield index, result
        give_work(actor)


def _retried(ray: Any, jobs: Sequence[CaseJob], jobs_ref: Any, unfinished: list[int], *, batch_size: int,
             workers: int) -> Iterator[tuple[CaseKey, CaseOutcome]]:
    """The unfinished jobs' outcomes, each computed alone (_isolated); if the retry itself breaks down (the cluster
    went away), every job still without an outcome becomes an error that says so."""
    done: set[int] = set()
    try:
        for index, result in _isolated(ray, jobs_ref, unfinished, batch_size=batch_size, workers=workers):
            if isinstance(result, BaseException):
                outcome = CaseOutcome(base_result(jobs[index], "error", _crash_reason(result)))
            else:
                outcome = pickle.loads(result)
            done.add(index)
            yield jobs[index].key, outcome
    except (GeneratorExit, KeyboardInterrupt):
        raise
    except BaseException as error:  # noqa: BLE001 - reported as each remaining case's error, never raised to the caller
        reason = f"the Ray run broke down before this case finished: {_described(error)}"
        for index in unfinished:
            if index not in done:
                yield jobs[index].key, CaseOutcome(base_result(jobs[index], "error", reason))


def ray_outcomes(batches: Sequence[Sequence[CaseJob]], *, batch_size: int, address: str | None = None,
                 workers: int | None = None) -> Iterator[tuple[CaseKey, CaseOutcome]]:
    """Every job's outcome, computed on Ray, yielded as it arrives: exactly one (key, outcome) per job.

    Args:
        batches: the audit's batches; the jobs of one batch share a batch key and are explained together.
        batch_size: Ray Data's batch size for both stages, and the batch size of each actor's batch computer.
        address: the cluster to join (default: RAY_ADDRESS, else a local cluster started for this call).
        workers: explainer actors (default: the cluster's CPUs).

    A worker crash never raises: outcomes already yielded stand, the jobs without one (however the pipeline ended)
    are retried one at a time, and a job that crashes its worker again gets an error outcome naming the crash.

    Raises:
        GradcamAuditError: Ray Data is not installed.
        RayConnectionError: no cluster answers at the address (within CONNECT_TIMEOUT_S).
    """
    global _connected_here
    ray = _import_ray()
    _connected_here = _connect(ray, address) or _connected_here
    jobs = [job for batch in batches for job in batch]
    if jobs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # Ray's own settings warn about themselves when first read
            context = ray.data.DataContext.get_current()
            context.enable_progress_bars = False  # the caller prints its own progress
            # Outcomes in the order they were planned, the order pytest asks for them: the caller's buffer of
            # finished outcomes then stays small (core/run/runner.py's STREAM_BUFFER_BATCHES).
            context.execution_options.preserve_order = True
        # Ray Data logs every dataset's start and plan at INFO; the audit's own progress line says what matters.
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        # More actors than batches would sit idle (and Ray warns about it).
        workers = max(1, min(workers or int(ray.cluster_resources().get("CPU", 1)), len(batches)))
        jobs_ref = ray.put(jobs)  # shipped once to the object store; rows carry only an index
        finished: set[int] = set()
        try:
            for index, outcome in _streamed(ray, batches, jobs_ref, batch_size=batch_size, workers=workers):
                if index not in finished:  # a retried batch must not report a job twice
                    unpickled = pickle.loads(outcome)
                    finished.add(index)
                    yield jobs[index].key, unpickled
        except (GeneratorExit, KeyboardInterrupt):
            raise  # the caller stopped the run: nothing is left to report to it
        except BaseException as error:  # noqa: BLE001 - Ray raises many types for a dead worker; every unfinished job is retried
            # Said, because a pipeline that always fails would otherwise only look slow.
            logging.getLogger(__name__).warning("the Ray Data run stopped (%s: %s); retrying its unfinished cases one at a time",
                                                type(error).__name__, str(error)[:300])
        # Every job the pipeline did not bring back, however it ended (raised, or ended early), is retried alone: the
        # caller gets exactly one outcome per job and never has to compute one in its own process.
        yield from _retried(ray, jobs, jobs_ref, [index for index in range(len(jobs)) if index not in finished],
                            batch_size=batch_size, workers=workers)


def disconnect_from_ray() -> None:
    """End the connection ray_outcomes made (stopping the local cluster it started; one the caller set up stays up).

    Call it from the main thread once every outcome has been used. Ray ends the whole process when anything reaches
    for its core worker after ray.shutdown() ("The core worker has already been shutdown ... The process will exit"):
    shut down from the stream's thread while the main thread still handled the last cases, a loaded machine's run
    ended that way before writing its results. What the run left in reference cycles is freed first, while Ray is up.
    """
    global _connected_here
    if _connected_here:
        _connected_here = False
        gc.collect()
        _import_ray().shutdown()
