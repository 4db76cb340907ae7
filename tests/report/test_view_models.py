"""View models: pinned by a golden file, identical after a JSON round trip, and the source of the Markdown summary."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from gradcam_audit.core.ledger.results_file import read_results, write_results
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.rendering.html.html_report import render_html
from gradcam_audit.rendering.text.markdown import markdown_summary
from gradcam_audit.rendering.views.view_models import build_report_view
from tests.report.synthetic import HOSTILE, fixed_results, hostile_results

GOLDEN = Path(__file__).parent / "golden" / "report_view.json"


def _as_json(results: RunResults) -> str:
    return json.dumps(dataclasses.asdict(build_report_view(results)), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def test_report_view_matches_the_golden_file() -> None:
    """Every displayed value of the fixed run. Regenerate on purpose: GRADCAM_AUDIT_REGENERATE=1 pytest tests/report."""
    actual = _as_json(fixed_results())
    if os.environ.get("GRADCAM_AUDIT_REGENERATE") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(actual, encoding="utf-8")
    assert GOLDEN.is_file(), f"{GOLDEN} is missing: run with GRADCAM_AUDIT_REGENERATE=1 to create it"
    assert actual == GOLDEN.read_text(encoding="utf-8"), "view model changed: review the diff, then regenerate the golden file"


def test_results_read_back_from_json_give_the_same_view_and_the_same_html(tmp_path: Path) -> None:
    for results in (fixed_results(), hostile_results()):
        path = tmp_path / "results.json"
        write_results(results, path)
        again = read_results(path)
        assert build_report_view(again) == build_report_view(results)
        assert render_html(build_report_view(again)) == render_html(build_report_view(results))


def test_markdown_summary_states_the_verdict_each_blocking_case_and_each_gate() -> None:
    text = markdown_summary(fixed_results(), "reports/gradcam/index.html")
    lines = text.splitlines()
    assert lines[0] == "## ❌ Grad-CAM audit: Release gate FAILED: 5 of 8 cases, 1 of 2 gates"
    assert "**3** failed · **1** error · **1** unexpectedly passed · **1** expected failure · **1** skipped · **1** passed" in lines
    rows = [line for line in lines if line.startswith("| specs/")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| specs/pets.yaml · cat-002", "| specs/pets.yaml · dog-001", "| specs/pets.yaml · dog-002",
        "| specs/pets.yaml · dog-003", "| specs/wild.yaml · fox-002",
    ]
    assert "only 12% of the attention fell on “cat” (at least 30% required)" in rows[0]
    assert "watermark attention share 41% (needs ≤ 5%)" in rows[0]
    assert "- Gate specs/pets.yaml: **FAILED** — cases that passed (pass rate) 25% (≥ 90%)" in text
    assert "- Gate specs/wild.yaml: **expected failure**" in text
    assert lines[-1] == "Full report (pictures, heatmaps, every case): reports/gradcam/index.html"
    passing = markdown_summary(RunResults(cases=fixed_results().cases[:1]))
    assert passing.startswith("## ✅ Grad-CAM audit: Release gate PASSED: 1 case\n") and "| case |" not in passing


def test_markdown_summary_escapes_markup_and_table_breakers() -> None:
    text = markdown_summary(hostile_results())
    assert "<script>" not in text and "</textarea>" not in text
    assert "\\<script\\>alert(1)\\</script\\>" in text
    table_rows = [line for line in text.splitlines() if line.startswith("| ") and "alert" in line]
    assert table_rows and all(line.count(" | ") == 3 for line in table_rows)  # no '|' in a name splits a cell
    assert HOSTILE not in text
