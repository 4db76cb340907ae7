"""Fixtures for report tests: synthetic runs rendered to HTML, and a real headless Chromium (skipped where missing)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.rendering.html.html_report import write_html_report
from tests.conftest import ExampleRun
from tests.report.synthetic import fixed_results, write_case_pictures

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic"]


@pytest.fixture(scope="session")
def pictured_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResults, Path]:
    """The fixed synthetic run with real pictures on disk; returns the results and the folder the paths are relative to."""
    directory = tmp_path_factory.mktemp("pictured")
    return write_case_pictures(fixed_results(), directory), directory


@pytest.fixture(scope="session")
def report_file(pictured_results: tuple[RunResults, Path]) -> Path:
    """The fixed run as a single self-contained HTML file."""
    results, directory = pictured_results
    return write_html_report(results, directory / "index.html")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never `playwright install`: the system browser is used)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (CI installs it with `apt-get install chromium`)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need `pip install playwright`")
    if shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"{CHROMIUM} is not executable")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class PageWatch:
    """A page with everything the browser complained about: console errors, page errors, dialogs, network requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda message: self.errors.append(message.text) if message.type in ("error", "warning") else None)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", self._dialog)
        page.on("request", lambda request: self.requests.append(request.url))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """open_page(path, javascript=True) → PageWatch, after the page has loaded."""
    contexts = []

    def open_(path: Path, javascript: bool = True) -> PageWatch:
        context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        watch = PageWatch(context.new_page())
        watch.page.goto(path.resolve().as_uri(), wait_until="load")
        return watch

    yield open_
    for context in contexts:
        context.close()


REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def example_report(example_run: ExampleRun) -> Path:
    """The shipped example's report, as `pytest --gradcam-specs specs/` writes it (tests/conftest.py runs it once)."""
    assert example_run.returncode == 0 and example_run.report.is_file(), example_run.stdout[-3000:] + example_run.stderr[-3000:]
    return example_run.report
