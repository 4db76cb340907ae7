"""Fixtures for plugin tests: small real projects built from the shipped example model and images."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
SPECS = REPOSITORY / "specs"
HONEST_MODEL = REPOSITORY / "models" / "stripes_honest.keras"
SHORTCUT_MODEL = REPOSITORY / "models" / "stripes_shortcut.keras"


@pytest.fixture
def shipped_example(pytester: pytest.Pytester) -> Path:
    """A copy of the whole shipped example (specs/ with specs/vit/, and models/) in the pytester directory; returns specs/."""
    import shutil

    shutil.copytree(SPECS, pytester.path / "specs")
    shutil.copytree(REPOSITORY / "models", pytester.path / "models")
    return pytester.path / "specs"


@pytest.fixture
def shipped_project(pytester: pytest.Pytester) -> Path:
    """The shipped CNN pair only (48 cases, 2 gates): what most run-level tests need, without the ViT suites' time."""
    import shutil

    shutil.copytree(SPECS, pytester.path / "specs", ignore=shutil.ignore_patterns("vit"))
    shutil.copytree(REPOSITORY / "models", pytester.path / "models")
    return pytester.path / "specs"


def shipped_cases(count: int) -> list[dict[str, Any]]:
    """The first `count` cases of the shipped honest suite, with absolute image paths."""
    import yaml

    data = yaml.safe_load((SPECS / "stripes_honest.yaml").read_text(encoding="utf-8"))
    cases = data["cases"][:count]
    for case in cases:
        case["image"] = str(SPECS / case["image"])
    return cases


@pytest.fixture
def write_spec(pytester: pytest.Pytester) -> Callable[..., Path]:
    """Write a spec file into the pytester directory from keyword fields (cases default to shipped ones)."""

    def write(name: str = "suite.yaml", *, cases: list[dict[str, Any]] | None = None, count: int = 4, **fields: Any) -> Path:
        import yaml

        document: dict[str, Any] = {
            "model": str(HONEST_MODEL),
            "preprocess": "scale01",
            "labels": ["horizontal", "vertical"],
            **fields,
            "cases": cases if cases is not None else shipped_cases(count),
        }
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return path

    return write


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def assert_same_results(first: Any, second: Any, path: str = "") -> None:
    """Equal results across batch sizes or processes: text and statuses exactly, floats within rtol 1e-5.

    Kernels differ with the batch size and the process (oneDNN picks per shape and CPU load), so logits differ in
    the 7th digit; never compare them bit for bit.
    """
    if isinstance(first, float) or isinstance(second, float):
        assert isinstance(first, (int, float)) and isinstance(second, (int, float)), f"{path}: {first!r} != {second!r}"
        assert math.isclose(first, second, rel_tol=1e-5, abs_tol=1e-7), f"{path}: {first!r} != {second!r}"
    elif isinstance(first, dict):
        assert isinstance(second, dict) and set(first) == set(second), f"{path}: keys differ: {sorted(first)} vs {sorted(second)}"
        for key in first:
            assert_same_results(first[key], second[key], f"{path}.{key}")
    elif isinstance(first, list):
        assert isinstance(second, list) and len(first) == len(second), f"{path}: lengths differ"
        for index, (left, right) in enumerate(zip(first, second)):
            assert_same_results(left, right, f"{path}[{index}]")
    else:
        assert first == second, f"{path}: {first!r} != {second!r}"


def without_timings(document: dict[str, Any]) -> dict[str, Any]:
    """Results JSON with run-dependent fields removed, for comparing two runs."""
    cleaned = json.loads(json.dumps(document))
    for key in ("started", "duration_s", "command"):
        cleaned.pop(key, None)
    for case in cleaned["cases"]:
        case.pop("duration_s", None)
        case.pop("nodeid", None)
        case["images"] = {kind: re.sub(r"^.*/", "", path) for kind, path in case.get("images", {}).items()}
    cleaned["cases"].sort(key=lambda case: (case["spec"], case["id"], case["method"]))
    for gate in cleaned.get("gates", []):
        gate.pop("nodeid", None)
    return cleaned
