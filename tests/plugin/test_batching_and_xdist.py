"""Batching across tests and pytest-xdist give the same results as one-at-a-time; a dying worker loses nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.records.codec import from_data
from gradcam_audit.core.records.comparison import CompactHeatmap
from tests.plugin.conftest import assert_same_results, read_json, shipped_cases, without_timings

HEATMAP_STEPS = 255  # a stored heatmap cell is 0..255 of the map's peak


def assert_same_cases(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> None:
    """Cases equal across batch sizes or processes: the stored 8-bit heatmaps within one step of 255 per cell and
    their peaks within rtol 1e-5 (a value on a rounding boundary may round either way when the kernels change), the
    rest as `assert_same_results` (text exactly, floats within rtol 1e-5)."""
    assert len(first) == len(second), (len(first), len(second))
    heatmaps = 0
    for one, other in zip(first, second, strict=True):
        name = f"{one['spec']}::{one['id']}[{one['method']}]"
        one, other = json.loads(json.dumps(one)), json.loads(json.dumps(other))  # copies: the heatmaps are taken out
        stored = [(case.get("result") or {}).pop("heatmap", None) for case in (one, other)]
        assert (stored[0] is None) == (stored[1] is None), f"{name}: a heatmap on one side only"
        if stored[0] is not None:
            left, right = (from_data(CompactHeatmap, data, name) for data in stored)
            assert left is not None and right is not None and (left.width, left.height) == (right.width, right.height), name
            assert np.isclose(left.peak, right.peak, rtol=1e-5, atol=0.0), f"{name}: peak {left.peak} != {right.peak}"
            cells = np.abs(left.decode() - right.decode()) * HEATMAP_STEPS
            assert float(cells.max()) <= 1.0 + 1e-9, f"{name}: cells differ by up to {cells.max():.1f} of {HEATMAP_STEPS}"
            heatmaps += 1
        assert_same_results(one, other, name)
    assert heatmaps, "no stored heatmap was compared"


def _run(pytester: pytest.Pytester, name: str, *arguments: str, subprocess: bool = False) -> dict[str, object]:
    run = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    run("--gradcam-specs", "suite.yaml", "--gradcam-json", f"{name}.json", "--gradcam-no-report", "-p", "no:cacheprovider", *arguments)
    return without_timings(read_json(pytester.path / f"{name}.json"))


def test_batched_results_equal_one_at_a_time(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(count=8, gate={"min_pass_rate": 0.5})
    one_at_a_time = _run(pytester, "single", "--gradcam-batch-size", "1")
    batched = _run(pytester, "batched", "--gradcam-batch-size", "8")
    assert len(batched["cases"]) == 8  # type: ignore[arg-type]
    assert_same_cases(batched["cases"], one_at_a_time["cases"])  # type: ignore[arg-type]
    assert_same_results(batched["gates"], one_at_a_time["gates"])


# xdist gives the serial run's results, against a baseline too: test_under_xdist.py (a run shared with other checks).


COUNTING_LOADER = '''
from pathlib import Path

import keras


def load(path):
    with open("loads.txt", "a", encoding="utf-8") as handle:
        handle.write(path + "\\n")
    return keras.saving.load_model(path)
'''


def test_each_model_is_loaded_once_per_process(
    pytester: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.plugin.conftest import HONEST_MODEL

    pytester.makepyfile(counting_loader=COUNTING_LOADER)
    pytester.syspathinsert()
    model = {"path": str(HONEST_MODEL), "loader": "counting_loader:load"}
    write_spec("a.yaml", count=3, model=model)
    write_spec("b.yaml", count=3, model=model, method=["gradcam", "layercam"])
    result = pytester.runpytest("--gradcam-specs", "a.yaml", "--gradcam-specs", "b.yaml", "--gradcam-no-report", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=9)
    assert (pytester.path / "loads.txt").read_text(encoding="utf-8").splitlines() == [str(HONEST_MODEL)]


def test_shards_cover_every_case_once_and_merge_into_one_report(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    import subprocess
    import sys

    write_spec(count=5)
    for shard in ("1/2", "2/2"):
        name = shard.replace("/", "of")
        pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-shard", shard, "--gradcam-report", f"{name}/index.html",
                           "-p", "no:cacheprovider")
    first, second = (read_json(pytester.path / name / "results.json") for name in ("1of2", "2of2"))
    first_ids = {case["id"] for case in first["cases"] if case["status"] != "not_run"}
    second_ids = {case["id"] for case in second["cases"] if case["status"] != "not_run"}
    # Each shard's ledger still lists every planned case: the others as run by another shard, not as missing.
    assert {case["cause"] for case in first["cases"] if case["status"] == "not_run"} == {"other_shard"}
    assert first["complete"] is True and len(first["cases"]) == 5
    assert first_ids and second_ids and not first_ids & second_ids
    assert first_ids | second_ids == {case["id"] for case in shipped_cases(5)}
    merged = pytester.path / "merged.html"
    subprocess.run(
        [sys.executable, "-m", "gradcam_audit.cli.main", "report", "1of2/results.json", "2of2/results.json", "-o", str(merged)],
        cwd=pytester.path, check=True, capture_output=True,
    )
    html = merged.read_text(encoding="utf-8")
    assert all(case_id in html for case_id in first_ids | second_ids)
    assert "Release gate PASSED: 5 cases" in html
