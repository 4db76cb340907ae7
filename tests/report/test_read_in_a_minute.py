"""The report a stakeholder reads in a minute: what was caught in the headline, one row per suite, cases collapsed with
their pictures decoded only when opened, small and short enough, nothing sideways on a phone (real headless Chromium)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gradcam_audit.core.ledger.suite_outcome import suite_outcomes
from gradcam_audit.rendering.views.view_models import build_report_view
from tests.report.synthetic import fixed_results
from tests.report.test_html import Parsed

MAX_BYTES = 2_500_000
MAX_HEIGHT_AT_1400 = 15_000
PHONE_WIDTH = 400


def _page(browser: Any, report: Path, width: int, javascript: bool = True) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=javascript)
    page = context.new_page()
    page.goto(report.resolve().as_uri(), wait_until="load")
    return page


def test_the_example_report_is_under_2_5_mb_15000_px_tall_and_never_scrolls_sideways_at_400_px(example_report: Path,
                                                                                                 browser: Any) -> None:
    assert example_report.stat().st_size <= MAX_BYTES, f"{example_report.stat().st_size:,} bytes"
    wide = _page(browser, example_report, 1400)
    height = wide.evaluate("document.documentElement.scrollHeight")
    assert height <= MAX_HEIGHT_AT_1400, f"{height:,} px tall at 1400 px wide"
    wide.context.close()
    for javascript in (True, False):
        phone = _page(browser, example_report, PHONE_WIDTH, javascript)
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        # Each suite's result is on screen, not in a column scrolled away.
        rights = phone.eval_on_selector_all("#summary .badge", "badges => badges.map(b => b.getBoundingClientRect().right)")
        assert len(rights) == 8 and max(rights) <= PHONE_WIDTH, rights  # the example's 8 suites
        # An opened case: its pictures fit, and its table's verdict column is the first one, on screen.
        phone.eval_on_selector("article.case details", "section => { section.open = true; }")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        verdicts = phone.eval_on_selector_all("article.case table.checks td:first-child",
                                              "cells => cells.map(c => [c.textContent, c.getBoundingClientRect().right])")
        assert verdicts and all(right <= PHONE_WIDTH for _, right in verdicts), verdicts
        assert {text for text, _ in verdicts} <= {"pass", "FAIL", "measured only", "for information"}
        phone.context.close()


def test_the_example_headline_says_the_shortcut_suites_failed_as_expected_on_the_corner_tag(example_report: Path) -> None:
    parsed = Parsed(example_report.read_text(encoding="utf-8"))
    text = " ".join(" ".join(parsed.text).split())
    assert "Release gate PASSED: 120 cases and 6 gates" in text
    assert ("The stripes_shortcut suite failed, as expected (a known problem): its model relies on the corner tag (“corner-tag”), "
            "a region it must not use, in 24 of 24 failing cases") in text
    assert "The stripes_vit_shortcut suite failed, as expected (a known problem): its model relies on the corner tag" in text
    assert ("The suites stripes_honest, detection_honest, segmentation_honest and stripes_vit_honest passed: their models looked "
            "where they should.") in text
    # The gates in plain words: the swap test caught the shortcut, the sanity test passed for both CNNs.
    assert ("Swap test: pasting the corner tag (“corner-tag”) of one class’s pictures into another class’s pictures changed the "
            "model’s answer in 100% of 64 tries (needs ≤ 5%), so the model decides by the corner tag") in text
    assert text.count("Sanity test: after scrambling the model’s learned weights, the heatmaps’ similarity") == 2


def test_the_example_has_one_summary_row_per_suite_failures_first_and_every_case_collapsed(example_report: Path) -> None:
    html = example_report.read_text(encoding="utf-8")
    parsed = Parsed(html)
    rows = [attributes["class"] for attributes in parsed.tags("tr") if attributes.get("class", "").startswith("status-")]
    assert rows[:4] == ["status-xfailed"] * 4 and set(rows[4:]) == {"status-passed"} and len(rows) == 8  # 8 suites, failures first
    assert [article["data-status"] for article in parsed.tags("article")][:48] == ["xfailed"] * 48
    # No section is open when the report opens: each case is one line until clicked.
    assert len(parsed.tags("article")) == 120 and all("open" not in details for details in parsed.tags("details"))
    # Every case picture is lazy: the browser decodes it only when its case is opened and near the screen.
    case_images = [image for image in parsed.tags("img") if image.get("alt", "").startswith(("Picture ", "Heatmap of where", "stripes-"))]
    assert len(case_images) == 120 * 2 + 48 and all(image.get("loading") == "lazy" for image in case_images)


def test_pictures_of_a_closed_case_are_not_decoded_until_it_is_opened(example_report: Path, browser: Any) -> None:
    page = _page(browser, example_report, 1400)
    complete = "Array.from(document.querySelectorAll('article.case img')).filter(image => image.complete && image.naturalWidth > 0).length"
    assert page.evaluate(complete) == 0
    first = page.query_selector("article.case")
    first.eval_on_selector("details", "section => { section.open = true; }")
    first.scroll_into_view_if_needed()
    page.evaluate("() => Promise.all(Array.from(document.querySelector('article.case').querySelectorAll('img')).map(i => i.decode()))")
    assert first.eval_on_selector_all("img", "images => images.every(image => image.complete && image.naturalWidth > 0)")
    assert page.evaluate(complete) == len(first.query_selector_all("img")) == 3  # that case's pictures only
    page.context.close()


def test_suite_outcomes_name_the_status_and_the_regions_their_failing_cases_missed() -> None:
    pets, wild = suite_outcomes(fixed_results())
    assert (pets.spec, pets.status, pets.cases, pets.failing_cases, pets.errors) == ("specs/pets.yaml", "failed", 5, 3, 1)
    assert [(miss.name, miss.role, miss.cases) for miss in pets.missed_regions] == [("cat", "required", 1), ("watermark", "forbidden", 1),
                                                                                   ("dog", "required", 1)]
    assert pets.wrong_predictions == 1 and pets.gate_misses and pets.known_problem == ""
    assert (wild.status, wild.known_problem) == ("xpassed", "known: snow background")  # an unexpected pass blocks, so it leads
    findings = build_report_view(fixed_results()).findings
    assert findings[0] == ("fail", "The pets suite FAILED: its model looks too little at “cat”, where it must look, in 1 of 3 failing cases, "
                                   "relies on “watermark”, a region it must not use, in 1 of 3 failing cases and predicts the "
                                   "wrong class in 1 case; 1 case could not be checked.")
