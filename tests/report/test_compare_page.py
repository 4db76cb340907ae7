"""The page `gradcam-audit compare` writes, in a real headless Chromium (the report's `browser` / `open_page` fixtures).

It lives beside the report's browser tests so that one Playwright instance serves them all (a second session-scoped
instance in the same process would clash with the first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.baseline.test_compare_command import two_runs  # noqa: F401 - the fixture: an honest and a shortcut run
from tests.cli.conftest import run_cli
from tests.plugin.conftest import write_spec  # noqa: F401 - used by two_runs


def test_compare_page_renders_in_chromium_with_both_heatmaps(two_runs: tuple[Path, Path], tmp_path: Path, open_page: Any) -> None:
    released, candidate = two_runs
    out = tmp_path / "compare.html"
    assert run_cli("compare", released, candidate, "-o", out).returncode == 1
    for javascript in (True, False):
        watch = open_page(out, javascript=javascript)
        page = watch.page
        assert page.locator("#comparison").is_visible()
        assert "4 cases regressed" in page.locator("#comparison-headline").inner_text()
        assert page.locator("#comparison-counts tr").count() == 3  # header, the suite, all suites
        assert page.locator("#comparison-cases article[data-comparison=regressed]").count() == 4
        images = page.locator("#comparison-cases img")
        assert images.count() == 8  # baseline and candidate overlay of each case, side by side
        assert all(images.nth(index).evaluate("img => img.complete && img.naturalWidth > 0") for index in range(images.count()))
        assert watch.errors == [] and watch.dialogs == []
        assert [url for url in watch.requests if not url.startswith(("file:", "data:"))] == []
