"""The shipped ViT pair: the honest transformer passes its spec, the shortcut one is caught on the tag by rollout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


def _region(case: dict[str, Any], name: str) -> dict[str, Any]:
    return next(region for region in case["result"]["regions"] if region["name"] == name)


def _limit(region: dict[str, Any], key: str) -> float:
    return float(next(check["limit"] for check in region["checks"] if check["threshold_key"] == key))


def test_shipped_vit_audit_passes_honest_and_catches_the_shortcut_with_rollout(pytester: pytest.Pytester) -> None:
    shutil.copytree(REPOSITORY / "specs" / "vit", pytester.path / "specs" / "vit")
    shutil.copytree(REPOSITORY / "specs" / "images", pytester.path / "specs" / "images")
    shutil.copytree(REPOSITORY / "models" / "vit", pytester.path / "models" / "vit")
    report = pytester.path / "out" / "index.html"
    result = pytester.runpytest("--gradcam-specs", str(pytester.path / "specs" / "vit"), "--gradcam-report", str(report), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=13, xfailed=13)
    document = json.loads((report.parent / "results.json").read_text(encoding="utf-8"))
    honest = [case for case in document["cases"] if case["spec"].endswith("stripes_vit_honest.yaml")]
    shortcut = [case for case in document["cases"] if case["spec"].endswith("stripes_vit_shortcut.yaml")]
    assert len(honest) == len(shortcut) == 12
    assert {case["status"] for case in honest} == {"passed"}
    assert {case["status"] for case in shortcut} == {"xfailed"}
    for case in honest + shortcut:
        assert case["result"]["method"] == "rollout"
        assert "MultiHeadAttention" in case["result"]["layer_reason"] and "class token" in case["result"]["layer_reason"]
        # rollout is the same map for every class: the result says so and names the class-specific method.
        assert any("not class-discriminative" in note and "gradrollout" in note for note in case["result"]["notes"])
    for case in shortcut:
        tag = _region(case, "corner-tag")
        assert not tag["passed"] and tag["mass"] > _limit(tag, "max_mass"), case["id"]
    for case in honest:
        tag = _region(case, "corner-tag")
        assert tag["passed"] and tag["mass"] <= _limit(tag, "max_mass"), case["id"]
