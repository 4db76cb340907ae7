"""`pytest --gradcam-executor ray`: the same ledger, report and JSON as a local run, on a real local Ray cluster (the
outside sweep and a detector included); a worker killed by a case costs only that case."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("ray.data", reason="the Ray executor tests need the [ray] extra")

from tests.outside.stripes import blind_spec  # noqa: E402
from tests.plugin.conftest import SHORTCUT_MODEL, SPECS, read_json, shipped_cases  # noqa: E402


def _by_key(document: dict[str, object]) -> dict[tuple[str, str], dict[str, object]]:
    return {(str(case["spec"]), str(case["id"])): case for case in document["cases"]}  # type: ignore[index, union-attr]


SIGKILL_ON_BLACK_IMAGE = '''
import os
import signal
import time

VICTIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "victim.pid")


def preprocess(batch):
    # Only the poisoned (all-black) image kills the process, as an out-of-memory kill would.
    if any(float(image.max()) == 0.0 for image in batch):
        os.kill(os.getpid(), signal.SIGKILL)
    # The marked image (pixel (0, 0) = (1, 2, 3)) makes its worker wait, the first time only, to be killed from
    # outside by the test, as a person or a scheduler kills one actor mid-run.
    if any(tuple(float(value) for value in image[0, 0]) == (1.0, 2.0, 3.0) for image in batch) and not os.path.exists(VICTIM):
        with open(VICTIM + ".tmp", "w") as handle:
            handle.write(f"{os.getpid()} {os.nice(0)}")  # the worker's pid and its niceness
        os.replace(VICTIM + ".tmp", VICTIM)
        time.sleep(300)
    return batch / 255.0
'''


def _kill_the_waiting_worker(victim: Path, killed: list[tuple[int, int]], run_ended: threading.Event) -> None:
    """SIGKILL the Ray worker that announced itself in ``victim`` (polls for it until the run ends), noting its pid and
    niceness."""
    import os
    import signal

    while not run_ended.wait(0.1):
        if victim.exists():
            pid, niceness = (int(word) for word in victim.read_text(encoding="utf-8").split())
            os.kill(pid, signal.SIGKILL)
            killed.append((pid, niceness))
            return


def _two_case_detection_spec(folder: Path) -> Path:
    """The shipped honest detection suite cut to two cases, beside a copy of its decoder module."""
    import shutil

    import yaml

    shipped = SPECS / "tasks"
    data = yaml.safe_load((shipped / "detection_honest.yaml").read_text(encoding="utf-8"))
    data["model"] = str((shipped / data["model"]).resolve())
    data.pop("gate", None)
    data["cases"] = [{**case, "image": str(shipped / case["image"])} for case in data["cases"][:2]]
    shutil.copy(shipped / "grid_decoder.py", folder / "grid_decoder.py")
    path = folder / "detection.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_ray_run_gives_the_statuses_masses_report_and_json_of_a_local_run_and_survives_a_killed_worker(
    pytester: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    from PIL import Image

    write_spec("honest.yaml", count=4, gate={"min_pass_rate": 0.5})
    write_spec("shortcut.yaml", count=4, model=str(SHORTCUT_MODEL), gate={"min_pass_rate": 0.5})
    # A third spec whose preprocess SIGKILLs the Ray worker on one (black) image; the cluster's workers import it
    # through the PYTHONPATH the run starts with.
    pytester.makepyfile(killing=SIGKILL_ON_BLACK_IMAGE)
    # (after the PYTHONPATH the suite runs with, so the run and its workers import the code under test)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(pytester.path), os.environ.get("PYTHONPATH")])))
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)).save(pytester.path / "black.png")
    cases = shipped_cases(3)
    cases[1] = {**cases[1], "id": "poisoned", "image": str(pytester.path / "black.png")}
    marked = np.array(Image.open(cases[0]["image"]).convert("RGB"))
    marked[0, 0] = (1, 2, 3)
    Image.fromarray(marked).save(pytester.path / "marked.png")
    # Before the poisoned case: the retry one case at a time then needs three fresh actors (killed-once dies, poisoned
    # dies, the third runs the rest and poisoned's second try last), not four (each loads TensorFlow and the model).
    cases.insert(1, {**cases[0], "id": "killed-once", "image": str(pytester.path / "marked.png")})
    write_spec("killing.yaml", cases=cases, preprocess="killing:preprocess")
    # The sweep beyond the boxes (the tag not annotated) and a detector's task (its decoder module beside the spec) ride
    # the same two runs: one Ray cluster for the suite's Ray checks, not one per feature (each start costs a minute).
    blind_spec(pytester.path, "shortcut", cases=("stripes-0001", "stripes-0003"))
    _two_case_detection_spec(pytester.path)
    arguments = ("honest.yaml", "shortcut.yaml", "blind_shortcut.yaml", "detection.yaml", "-p", "no:cacheprovider")
    local = pytester.runpytest("--gradcam-specs", *arguments, "--gradcam-report", "local/index.html")
    killed: list[tuple[int, int]] = []
    run_ended = threading.Event()
    killer = threading.Thread(target=_kill_the_waiting_worker, args=(pytester.path / "victim.pid", killed, run_ended), daemon=True)
    killer.start()
    try:
        # The killing spec last: the cases before it can come back from the pipeline before the crash stops it, and
        # are not computed again; first, every case came after the crash, and all were retried one at a time.
        remote = pytester.runpytest_subprocess("--gradcam-specs", *arguments[:4], "killing.yaml", *arguments[4:],
                                               "--gradcam-report", "ray/index.html", "--gradcam-executor", "ray")
    finally:
        run_ended.set()
        killer.join(1.0)
    # An actor killed from outside mid-run never ends the pytest process: the run finishes, writes its results
    # and gives every planned case one status.
    assert killed, "the marked case never reached a Ray worker"
    # The local cluster's workers run at normal priority: at Ray's default niceness (15) they starved behind any busy
    # process (this test took 716 s beside one CPU hog on 2 cores, and the killer gave up before the case arrived).
    assert killed[0][1] == os.nice(0), killed
    assert remote.ret == local.ret == pytest.ExitCode.TESTS_FAILED
    assert "INTERNALERROR" not in remote.stdout.str() + remote.stderr.str()
    here, there = (_by_key(read_json(pytester.path / folder / "results.json")) for folder in ("local", "ray"))
    killing = {key[1]: there.pop(key) for key in list(there) if key[0].endswith("killing.yaml")}
    assert set(here) == set(there) and len(here) == 12 and len(killing) == 4  # every planned case, each with one status
    for key, case in here.items():
        other = there[key]
        assert other["status"] == case["status"], key
        for mine, theirs in zip(case["result"]["regions"], other["result"]["regions"]):  # type: ignore[index]
            assert abs(mine["mass"] - theirs["mass"]) <= 1e-6, key
        assert case["result"]["score_kind"] == other["result"]["score_kind"], key
    # The outside sweep's records on Ray are the local run's: the same cells, hotspots and largest effect.
    blind = [key for key in here if key[0].endswith("blind_shortcut.yaml")]
    assert len(blind) == 2 and here[blind[0]]["result"]["outside"]["hotspots"]  # stripes-0001 depends on the tag
    for key in blind:
        mine, theirs = here[key]["result"]["outside"], there[key]["result"]["outside"]
        assert theirs["cells"] == mine["cells"] and [spot["box"] for spot in theirs["hotspots"]] == [spot["box"] for spot in mine["hotspots"]]
        assert abs(theirs["max_effect"] - mine["max_effect"]) <= 1e-4, key
    # The detector's cases explained the same matched candidate on Ray as locally.
    detection = [key for key in here if key[0].endswith("detection.yaml")]
    assert [here[key]["status"] for key in detection] == ["passed", "passed"]
    for key in detection:
        mine, theirs = here[key]["result"]["task_target"], there[key]["result"]["task_target"]
        assert theirs["matched"] and theirs["candidate"] == mine["candidate"], key
        assert all(abs(a - b) <= 1e-3 for a, b in zip(theirs["detection_box"], mine["detection_box"])), key
    assert [gate["status"] for gate in read_json(pytester.path / "ray" / "results.json")["gates"]] == \
        [gate["status"] for gate in read_json(pytester.path / "local" / "results.json")["gates"]]
    # The killed worker costs only the case that killed it, and that case says so; nothing finished is lost, and
    # the cases that shared its batch (their worker was killed under them) are retried and keep their real status.
    assert killing["poisoned"]["status"] == "error" and "the Ray worker running this case crashed" in str(killing["poisoned"]["reason"])
    # The case whose actor was killed from outside once is retried and keeps its real status.
    assert {case_id: case["status"] for case_id, case in killing.items() if case_id != "poisoned"} == \
        {"stripes-0000": "passed", "stripes-0002": "passed", "killed-once": "passed"}
    assert "Release gate" in (pytester.path / "ray" / "index.html").read_text(encoding="utf-8")


def test_ray_with_xdist_or_an_unknown_executor_is_a_usage_error(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=1)
    unknown = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-executor", "spark", "-p", "no:cacheprovider")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    unknown.stderr.fnmatch_lines(["*--gradcam-executor 'spark' is not one of: local, serial, ray*"])
    both = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-executor", "ray", "-n", "2", "-p", "no:cacheprovider")
    assert both.ret == pytest.ExitCode.USAGE_ERROR
    both.stderr.fnmatch_lines(["*drop -n (pytest-xdist)*"])


def _closed_port() -> int:
    """A local port nothing listens on (bound once to pick it, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_ray_address_where_no_cluster_answers_fails_every_case_naming_it_with_a_report(
    pytester: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    # Before: ray.init retried the address in silence for minutes; no line, no report, no exit.
    write_spec(count=2, gate={"min_pass_rate": 0.5})
    address = f"127.0.0.1:{_closed_port()}"
    # In this process: nothing answers, so Ray is never initialised here (the socket is refused before ray.init).
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-executor", "ray", "--gradcam-ray-address", address,
                                "--gradcam-report", "ray/index.html", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    document = read_json(pytester.path / "ray" / "results.json")
    assert len(document["cases"]) == 2
    for case in document["cases"]:
        assert case["status"] == "error", case
        assert address in str(case["reason"]) and "ray start --head" in str(case["reason"]), case["reason"]
    assert all(gate["status"] != "passed" for gate in document["gates"])
    import ray

    assert not ray.is_initialized()  # nothing of Ray was left in this process


SILENT_LISTENER = '''
import socket, sys, threading, time
from gradcam_audit.core.run.ray_executor import RayConnectionError, _connect
import ray

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(16)
held = []


def accept():
    while True:
        held.append(server.accept()[0])  # accepted, never answered: what a port of another service does to Ray


threading.Thread(target=accept, daemon=True).start()
try:
    _connect(ray, f"127.0.0.1:{server.getsockname()[1]}", timeout_s=2.0)
except RayConnectionError as error:
    print("REFUSED:", error)
'''


def test_an_address_that_accepts_but_never_answers_is_given_up_within_the_bound() -> None:
    # Before: ray.init waited on such a port for many minutes. In a fresh process: the abandoned join keeps a thread.
    import subprocess
    import sys

    completed = subprocess.run([sys.executable, "-c", SILENT_LISTENER], capture_output=True, text=True, timeout=120,
                               cwd=Path(__file__).resolve().parents[2])
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "REFUSED: the Ray cluster at '127.0.0.1:" in completed.stdout and "did not answer within 2 s" in completed.stdout
    assert "ray start --head" in completed.stdout
