"""The Ray executor gives a local run's outcomes, one per job, and a worker crash costs only the case that caused it."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

pytest.importorskip("ray.data", reason="the Ray executor tests need the [ray] extra")

from gradcam_audit.core.audit import plan_audit  # noqa: E402
from gradcam_audit.core import ray_executor  # noqa: E402
from gradcam_audit.core.ray_executor import ray_outcomes  # noqa: E402
from gradcam_audit.core.runner import AuditRunner, CaseJob, CaseOutcome  # noqa: E402
from tests.plugin.conftest import HONEST_MODEL, SPECS, shipped_cases  # noqa: E402

# Ray's own deprecations (its DataContext warns about its own settings), not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")

BATCH_SIZE = 4

SIGKILL_ON_BLACK_IMAGE = '''
import os
import signal


def preprocess(batch):
    # Only the poisoned (all-black) image kills the process, as an out-of-memory kill would.
    if any(float(image.max()) == 0.0 for image in batch):
        os.kill(os.getpid(), signal.SIGKILL)
    return batch / 255.0
'''


@pytest.fixture(scope="module")
def user_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the spec's own preprocess module, on the workers' PYTHONPATH from the cluster's start."""
    folder = tmp_path_factory.mktemp("user_modules")
    (folder / "killing.py").write_text(SIGKILL_ON_BLACK_IMAGE, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def cluster(user_modules: Path) -> Iterator[None]:
    """One local 2-CPU cluster for the module; ray_outcomes joins it and leaves it running."""
    import ray

    python_path = os.pathsep.join(filter(None, [str(user_modules), os.environ.get("PYTHONPATH", "")]))
    # Workers are started by the raylet, not by the test: the folder must reach them through the runtime env.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": python_path}})
    yield
    ray.shutdown()


def audit_batches(paths: Sequence[Path]) -> list[list[CaseJob]]:
    """The planned jobs cut into batches of one batch key, at most BATCH_SIZE each, as the runner would."""
    jobs = [case.job for case in plan_audit(paths).cases if case.job is not None]
    by_key: dict[Any, list[CaseJob]] = {}
    for job in jobs:
        by_key.setdefault(job.batch_key, []).append(job)
    return [group[start:start + BATCH_SIZE] for group in by_key.values() for start in range(0, len(group), BATCH_SIZE)]


def collected(batches: list[list[CaseJob]], **options: Any) -> dict[tuple[str, str, str], CaseOutcome]:
    outcomes: dict[tuple[str, str, str], CaseOutcome] = {}
    for key, outcome in ray_outcomes(batches, batch_size=BATCH_SIZE, **options):
        assert key not in outcomes, f"{key} was yielded twice"
        outcomes[key] = outcome
    return outcomes


def test_a_case_that_kills_its_worker_is_an_error_naming_the_crash_and_the_others_keep_their_verdicts(
    cluster: None, tmp_path: Path, user_modules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(user_modules))
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(tmp_path / "black.png")
    cases = shipped_cases(5)
    cases[2] = {**cases[2], "id": "poisoned", "image": str(tmp_path / "black.png")}
    document = {"model": str(HONEST_MODEL), "preprocess": "killing:preprocess", "labels": ["horizontal", "vertical"], "cases": cases}
    spec = tmp_path / "suite.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    batches = audit_batches([spec])
    assert len(batches) == 2 and any(job.case.id == "poisoned" for job in batches[0])  # batch-mates share its fate at first

    outcomes = collected(batches, workers=2)

    verdicts = {key[1]: outcome.result.verdict for key, outcome in outcomes.items()}
    assert verdicts.pop("poisoned") == "error"
    assert verdicts == {case["id"]: "passed" for index, case in enumerate(shipped_cases(5)) if index != 2}
    (poisoned,) = (outcome.result for key, outcome in outcomes.items() if key[1] == "poisoned")
    assert poisoned.reason.startswith("the Ray worker running this case crashed: ")
