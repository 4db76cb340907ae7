"""The shipped segmentation and detection pairs (specs/tasks/): the honest models pass; the shortcut models are caught
reading the corner tag (its mass and its causal effect) on the cases whose class they take from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcam_audit.core.audit import run_audit

TASKS = Path(__file__).resolve().parents[2] / "specs" / "tasks"


@pytest.mark.slow
@pytest.mark.parametrize("task", ["segmentation", "detection"])
def test_honest_model_passes_and_the_shortcut_model_fails_on_the_tag(task: str) -> None:
    honest = run_audit([TASKS / f"{task}_honest.yaml"])
    assert [entry.status for entry in honest.cases] == ["passed"] * len(honest.cases)
    shortcut = run_audit([TASKS / f"{task}_shortcut.yaml"])
    caught = [entry for entry in shortcut.cases if entry.status == "xfailed"]
    assert len(caught) >= 5
    for entry in caught:
        assert "corner-tag: mass" in entry.reason and "> max_mass 0.05" in entry.reason, entry.reason
        assert "> max_effect 0.1" in entry.reason, entry.reason
    assert all(entry.status in ("passed", "xfailed") for entry in shortcut.cases)
