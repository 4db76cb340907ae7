"""The shipped example: the honest models (CNN and ViT) pass their specs, the shortcut models are caught looking at
the tag."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.conftest import ExampleRun
from tests.plugin.conftest import REPOSITORY, SPECS, read_json


def test_shipped_audit_passes_honest_and_catches_shortcut(example_run: ExampleRun) -> None:
    # The README's first command, run once for the suite (tests/conftest.py).
    # the CNN pair (24 cases + gate each), the ViT pair (specs/vit/, 12 + gate) and the segmenter and detector pairs
    # (specs/tasks/: 12 cases each; a shortcut task model is caught on the cases of the class its tag decides: 7 and 5)
    outcomes = pytest.RunResult(example_run.returncode, example_run.stdout.splitlines(), example_run.stderr.splitlines(), 0.0)
    outcomes.assert_outcomes(passed=25 + 13 + 26 + 12, xfailed=25 + 13 + 12)
    assert example_run.returncode == 0
    assert example_run.report.is_file()
    document = read_json(example_run.results)
    _docs_quote_this_run(example_run.stdout.splitlines(), document)
    honest = [case for case in document["cases"] if case["spec"].endswith("stripes_honest.yaml")]
    shortcut = [case for case in document["cases"] if case["spec"].endswith("stripes_shortcut.yaml")]
    assert len(honest) == len(shortcut) == 24
    assert {case["status"] for case in honest} == {"passed"}
    assert {case["status"] for case in shortcut} == {"xfailed"}
    for case in shortcut:
        failing = {region["name"] for region in case["result"]["regions"] if not region["passed"]}
        assert "corner-tag" in failing, case["id"]
        tag = next(region for region in case["result"]["regions"] if region["name"] == "corner-tag")
        assert tag["mass"] > limit(tag, "max_mass")
    for case in honest:
        tag = next(region for region in case["result"]["regions"] if region["name"] == "corner-tag")
        stripes = next(region for region in case["result"]["regions"] if region["name"] == "stripes")
        assert tag["mass"] <= limit(tag, "max_mass") and stripes["lift"] >= limit(stripes, "min_lift")
    # The ViT pair (specs/vit/): the honest transformer passes, the shortcut one is caught on the tag by rollout.
    vit_honest = [case for case in document["cases"] if case["spec"].endswith("stripes_vit_honest.yaml")]
    vit_shortcut = [case for case in document["cases"] if case["spec"].endswith("stripes_vit_shortcut.yaml")]
    assert len(vit_honest) == len(vit_shortcut) == 12
    assert {case["status"] for case in vit_honest} == {"passed"} and {case["status"] for case in vit_shortcut} == {"xfailed"}
    for case in vit_honest + vit_shortcut:
        assert case["result"]["method"] == "rollout"
        assert "MultiHeadAttention" in case["result"]["layer_reason"] and "class token" in case["result"]["layer_reason"]
        # rollout is the same map for every class: the result says so and names the class-specific method.
        assert any("not class-discriminative" in note and "gradrollout" in note for note in case["result"]["notes"])
    for case in vit_shortcut + vit_honest:
        tag = next(region for region in case["result"]["regions"] if region["name"] == "corner-tag")
        assert tag["passed"] == (case in vit_honest), case["id"]
        assert (tag["mass"] <= limit(tag, "max_mass")) == (case in vit_honest), case["id"]


def _docs_quote_this_run(lines: list[str], document: dict[str, Any]) -> None:
    """The quick start shows this run's last line, and Running in CI the line merging it from shards prints: both must be
    this run's (checked here, where the example already ran)."""
    line = next(text for text in lines if "gradcam audit " in text and " → " in text)
    printed = line[line.index("gradcam audit "):line.index(" → ")]
    assert printed in (REPOSITORY / "docs" / "quick-start.md").read_text(encoding="utf-8"), printed
    statuses = Counter(case["status"] for case in document["cases"])
    summary = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
    merged = f"{len(document['cases'])} case(s) ({summary}), {len(document['gates'])} gate(s) from 2 results file(s)"
    assert merged in (REPOSITORY / "docs" / "running-in-ci.md").read_text(encoding="utf-8"), merged


def limit(region: dict[str, Any], key: str) -> float:
    """The limit a region's check for ``key`` was decided against."""
    return float(next(check["limit"] for check in region["checks"] if check["threshold_key"] == key))


def test_shortcut_model_without_xfail_fails_with_numbers_in_output(pytester: pytest.Pytester) -> None:
    text = (SPECS / "stripes_shortcut.yaml").read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("xfail:"))
    text = text.replace("../models/", str(SPECS.parent / "models") + "/").replace("images/", str(SPECS / "images") + "/")
    spec = pytester.path / "shortcut.yaml"
    spec.write_text(text, encoding="utf-8")
    result = pytester.runpytest("--gradcam-specs", str(spec), "--gradcam-no-report", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=25)
    result.stdout.fnmatch_lines(["*corner-tag: mass 0.* > max_mass 0.04*", "*corner-tag*mass*0.*<= 0.04*FAIL*", "*gate FAILED: pass_rate 0.000 < min_pass_rate 0.9*"])
    assert "Traceback" not in result.stdout.str()


def test_the_task_docs_quote_this_run(example_run: ExampleRun) -> None:
    """docs/tasks.md's figures for the shipped segmenter and detector pairs are this run's (the example audits them)."""
    document = read_json(example_run.results)
    text = (REPOSITORY / "docs" / "tasks.md").read_text(encoding="utf-8")
    tasks = [case for case in document["cases"] if "/tasks/" in case["spec"]]
    statuses = Counter(case["status"] for case in tasks)
    gates = [gate["status"] for gate in document["gates"] if "/tasks/" in gate["spec"]]
    assert gates == ["passed", "passed"]
    assert f"{statuses['passed']} passed, {statuses['xfailed']} xfailed, both gates passed" in text
    for suite in ("segmentation_honest", "detection_honest"):
        cases = [case for case in tasks if case["spec"].endswith(f"{suite}.yaml")]
        masses = [next(region["mass"] for region in case["result"]["regions"] if region["name"] == "square") for case in cases]
        row = f"| `{suite}` | {len(cases)} / {len(cases)} passed (square mass {min(masses):.2f}–{max(masses):.2f}"
        assert {case["status"] for case in cases} == {"passed"} and row in text, row
    for suite, caught in (("segmentation_shortcut", "horizontal"), ("detection_shortcut", "vertical")):
        cases = [case for case in tasks if case["spec"].endswith(f"{suite}.yaml")]
        xfailed = [case for case in cases if case["status"] == "xfailed"]
        assert f"| `{suite}` | the {len(xfailed)} {caught} cases caught" in text
