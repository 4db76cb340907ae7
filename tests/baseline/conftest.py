"""Fixtures for the baseline tests: real audits of the shipped models through pytester."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.plugin.conftest import HONEST_MODEL, SHORTCUT_MODEL, shipped_cases, write_spec  # noqa: F401 - fixtures used here

__all__ = ["HONEST_MODEL", "SHORTCUT_MODEL", "audit", "shipped_cases"]


def audit(pytester: pytest.Pytester, spec: Path, out: str, *arguments: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """`pytest --gradcam-specs SPEC` writing its results (and pictures, as files) under OUT; returns the run and its JSON."""
    report = pytester.path / out / "index.html"
    result = pytester.runpytest("--gradcam-specs", str(spec), "--gradcam-report", str(report), "--gradcam-report-images", "files",
                                "-p", "no:cacheprovider", *arguments)
    return result, json.loads((report.parent / "results.json").read_text(encoding="utf-8"))


def comparisons(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Each case's `result.baseline` record."""
    return [case["result"]["baseline"] for case in document["cases"]]
