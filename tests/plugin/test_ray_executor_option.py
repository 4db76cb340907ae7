"""`pytest --gradcam-executor ray`: the same ledger, report and JSON as a local run, on a real local Ray cluster."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("ray.data", reason="the Ray executor tests need the [ray] extra")

from tests.plugin.conftest import SHORTCUT_MODEL, read_json  # noqa: E402


def _by_key(document: dict[str, object]) -> dict[tuple[str, str], dict[str, object]]:
    return {(str(case["spec"]), str(case["id"])): case for case in document["cases"]}  # type: ignore[index, union-attr]


def test_a_ray_run_gives_the_statuses_masses_report_and_json_of_a_local_run(
    pytester: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec("honest.yaml", count=4, gate={"min_pass_rate": 0.5})
    write_spec("shortcut.yaml", count=4, model=str(SHORTCUT_MODEL), gate={"min_pass_rate": 0.5})
    arguments = ("--gradcam-specs", "honest.yaml", "shortcut.yaml", "-p", "no:cacheprovider")
    local = pytester.runpytest(*arguments, "--gradcam-report", "local/index.html")
    remote = pytester.runpytest_subprocess(*arguments, "--gradcam-report", "ray/index.html", "--gradcam-executor", "ray")
    assert remote.ret == local.ret
    outcomes = [{kind: count for kind, count in run.parseoutcomes().items() if kind in ("passed", "failed", "error")} for run in (local, remote)]
    assert outcomes[0] == outcomes[1] == {"passed": 5, "failed": 5}
    here, there = (_by_key(read_json(pytester.path / folder / "results.json")) for folder in ("local", "ray"))
    assert set(here) == set(there) and len(here) == 8
    for key, case in here.items():
        other = there[key]
        assert other["status"] == case["status"], key
        for mine, theirs in zip(case["result"]["regions"], other["result"]["regions"]):  # type: ignore[index]
            assert abs(mine["mass"] - theirs["mass"]) <= 1e-6, key
    assert [gate["status"] for gate in read_json(pytester.path / "ray" / "results.json")["gates"]] == \
        [gate["status"] for gate in read_json(pytester.path / "local" / "results.json")["gates"]]
    assert "Release gate" in (pytester.path / "ray" / "index.html").read_text(encoding="utf-8")


def test_ray_with_xdist_or_an_unknown_executor_is_a_usage_error(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=1)
    unknown = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-executor", "spark", "-p", "no:cacheprovider")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    unknown.stderr.fnmatch_lines(["*--gradcam-executor 'spark' is not one of: local, serial, ray*"])
    both = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-executor", "ray", "-n", "2", "-p", "no:cacheprovider")
    assert both.ret == pytest.ExitCode.USAGE_ERROR
    both.stderr.fnmatch_lines(["*drop -n (pytest-xdist)*"])
