"""The report in a real browser (headless Debian Chromium): no errors, filters work, images load, nothing injected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.rendering.html.html_report import write_html_report
from tests.report.synthetic import hostile_results, write_case_pictures


def open_every_details(page: Any) -> None:
    """Open every collapsed section, as a reader clicking each one would, and wait for its pictures to load.

    The pictures load lazily (when opened and scrolled near): marking them eager stands for scrolling past each one.
    """
    page.eval_on_selector_all("details", "sections => sections.forEach(section => { section.open = true; })")
    page.eval_on_selector_all("img", "images => images.forEach(image => { image.loading = 'eager'; })")
    page.evaluate("() => Promise.all(Array.from(document.images).map(image => image.decode().catch(() => null)))")


def _visible_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all("article.case", "cases => cases.filter(c => !c.hidden && c.offsetParent !== null).map(c => c.dataset.id)")


def test_report_loads_without_errors_and_the_filters_hide_and_show_cases(report_file: Path, open_page: Any, tmp_path: Path) -> None:
    watch = open_page(report_file)
    page = watch.page
    assert _visible_ids(page) == [element.get_attribute("data-id") for element in page.query_selector_all("article.case")]
    assert len(_visible_ids(page)) == 8
    assert page.inner_text("#shown-count") == "8 of 8 cases shown"

    page.select_option("#filter-status", "failed")
    assert sorted(_visible_ids(page)) == ["cat-002", "dog-001", "dog-002"]
    assert page.inner_text("#shown-count") == "3 of 8 cases shown"
    page.select_option("#filter-tag", "night")
    assert _visible_ids(page) == ["cat-002"]
    page.select_option("#filter-suite", "specs/wild.yaml")
    assert _visible_ids(page) == []
    assert page.is_visible("#no-match")
    page.click("#filter-reset")
    assert len(_visible_ids(page)) == 8
    assert not page.is_visible("#no-match")

    page.select_option("#sort", "id")
    ids = _visible_ids(page)
    assert ids == sorted(ids)
    page.select_option("#sort", "attention")
    assert _visible_ids(page)[:3] == ["cat-002", "dog-001", "dog-002"]  # failures first, as served

    # Every picture decoded (the CSP lets data: images through) once its case is opened: they load lazily.
    open_every_details(page)
    assert page.eval_on_selector_all("img", "images => images.every(i => i.complete && i.naturalWidth > 0)")
    screenshot = tmp_path / "report.png"
    page.screenshot(path=str(screenshot), full_page=False)
    assert screenshot.stat().st_size > 10_000
    assert watch.errors == [], watch.errors
    assert [url for url in watch.requests if not url.startswith(("file:", "data:"))] == []


def test_without_javascript_every_case_is_shown(report_file: Path, open_page: Any) -> None:
    watch = open_page(report_file, javascript=False)
    assert len(_visible_ids(watch.page)) == 8
    assert not watch.page.is_visible("#filters")  # the controls only appear where they work


def test_images_written_beside_the_report_load_from_file_urls(pictured_results: tuple[RunResults, Path], open_page: Any) -> None:
    results, directory = pictured_results
    report = write_html_report(results, directory / "files" / "index.html", inline_images=False, images_base=directory)
    html = report.read_text(encoding="utf-8")
    assert 'src="../cases/' in html and "data:image/jpeg" not in html
    watch = open_page(report)
    open_every_details(watch.page)
    sources = watch.page.eval_on_selector_all("article img", "images => images.map(i => [i.getAttribute('src'), i.naturalWidth])")
    assert len(sources) >= 10
    assert all(width > 0 for _, width in sources), sources
    assert watch.errors == [], watch.errors


def test_hostile_text_injects_nothing_in_the_browser(tmp_path: Path, open_page: Any) -> None:
    report = write_html_report(write_case_pictures(hostile_results(), tmp_path), tmp_path / "index.html")
    watch = open_page(report)
    page = watch.page
    watch.page.hover("article.case h3")
    assert watch.dialogs == []
    assert page.eval_on_selector_all("script", "scripts => scripts.length") == 1
    assert page.eval_on_selector_all("textarea, [onmouseover]", "elements => elements.length") == 0
    assert "<script>alert(1)</script>" in page.inner_text("article.case h3")
    # A tag with a space and one with markup still filter correctly.
    page.select_option("#filter-tag", "a b")
    assert len(_visible_ids(page)) == 1
    page.select_option("#filter-tag", "</textarea>")
    assert len(_visible_ids(page)) == 1
    assert watch.errors == [], watch.errors
