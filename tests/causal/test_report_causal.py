"""The report shows each removed region beside the original, with both probabilities, and the transplants that flipped."""

from __future__ import annotations

import os
from pathlib import Path

from gradcam_audit.core.audit import CaseRun, run_audit
from gradcam_audit.rendering.html.html_report import write_html_report
from gradcam_audit.rendering.text.markdown import markdown_summary
from gradcam_audit.rendering.pictures.overlay import render_case_images
from gradcam_audit.rendering.views.view_models import build_report_view

SHORTCUT = Path(__file__).resolve().parents[2] / "specs" / "stripes_shortcut.yaml"


def test_removed_regions_and_flipped_transplants_are_in_the_report(tmp_path: Path) -> None:
    folder = tmp_path / "report"

    def draw(run: CaseRun) -> dict[str, str]:
        assert run.entry.result is not None and run.image is not None
        written = render_case_images(run.entry.result, run.image, run.heatmap, folder / "cases", removed=run.removed)
        return {kind: Path(os.path.relpath(path, folder)).as_posix() for kind, path in written.items()}

    ledger = run_audit([SHORTCUT], on_case=draw)
    first = ledger.cases[0]
    assert set(first.images) == {"regions", "overlay", "removed-1"}  # corner-tag is the second region
    view = build_report_view(ledger)
    case = next(case for case in view.cases if case.case_id == "stripes-0001")
    (removal,) = case.removals
    assert removal.region == "corner-tag" and removal.state == "fail" and removal.kind == "removed-1"
    assert removal.caption.startswith("Without “corner-tag” (filled in from its surroundings): p(vertical) ")
    assert "→ 0.051" in removal.caption  # measured p(vertical) without the tag
    effect_rows = [row for row in case.rows if row.metric.startswith("drop in the class's probability")]
    assert effect_rows and effect_rows[0].verdict == "FAIL" and effect_rows[0].threshold == "≤ 10%"
    suite = next(suite for suite in view.suites if suite.gate is not None)
    assert suite.gate is not None and len(suite.gate.flips) == 21  # 20 shown + "… and 44 more"
    assert suite.gate.flips[-1] == "… and 44 more of 64 pairs"
    html = write_html_report(ledger, folder / "index.html").read_text(encoding="utf-8")
    assert "Without “corner-tag”" in html and "Transplants that flipped the prediction" in html
    assert html.count('alt="stripes-0001 without the region corner-tag"') == 1
    summary = markdown_summary(ledger)
    assert "transplant flip:" in summary and "transplants that flipped the prediction 100%" in summary
    # The cascading randomisation: one picture per stage under the gate.
    assert suite.gate.cascade and all(stage.picture.startswith("data:image/png;base64,") for stage in suite.gate.cascade)
    assert suite.gate.cascade[0].caption.startswith(f"top 1 of {len(suite.gate.cascade)} layers re-initialised")
    assert html.count('alt="Heatmap of stripes-0000 at stage') == len(suite.gate.cascade)


def test_the_faithfulness_curves_are_drawn_beside_the_case_and_their_misses_read_plainly(tmp_path: Path) -> None:
    import yaml

    document = yaml.safe_load(SHORTCUT.read_text(encoding="utf-8"))
    document["model"] = str(SHORTCUT.parent / document["model"])
    document["cases"] = [{**case, "image": str(SHORTCUT.parent / case["image"]), "max_deletion_auc": 0.0001} for case in document["cases"][:2]]
    document.pop("gate", None)
    document.pop("xfail", None)  # the shortcut suite is an expected failure; here its misses must be listed
    spec = tmp_path / "faithful.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    ledger = run_audit([spec])
    view = build_report_view(ledger)
    case = view.cases[0]
    assert case.faithfulness is not None and case.faithfulness.state == "fail"
    assert len(case.faithfulness.deletion_points.split()) == 11 and "deletion AUC" in case.faithfulness.summary
    assert any(row.metric.endswith("(deletion AUC)") and row.verdict == "FAIL" for row in case.rows)
    html = write_html_report(ledger, tmp_path / "index.html").read_text(encoding="utf-8")
    assert html.count('aria-label="Deletion and insertion curves of') == 2
    assert "(deletion AUC)" in markdown_summary(ledger)  # the failure table carries the area and its limit
