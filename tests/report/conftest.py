"""Fixtures for report tests: synthetic runs rendered to HTML, and a real headless Chromium (skipped where missing)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.rendering.html.html_report import write_html_report
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
def example_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped example (specs/: 8 suites, 120 cases) audited once, as the README runs it; returns its index.html.

    A subprocess, not pytester: the report must be what `pytest --gradcam-specs specs/` writes, with the default options.
    """
    import os
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("example")
    shutil.copytree(REPOSITORY / "specs", folder / "specs")
    shutil.copytree(REPOSITORY / "models", folder / "models")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(REPOSITORY), os.environ.get("PYTHONPATH")))),
                   "TF_CPP_MIN_LOG_LEVEL": "2"}
    completed = subprocess.run([sys.executable, "-m", "pytest", "--gradcam-specs", "specs/", "-p", "no:cacheprovider", "-q"],
                               cwd=folder, env=environment, capture_output=True, text=True, timeout=900, check=False)
    report = folder / "reports" / "gradcam" / "index.html"
    assert completed.returncode == 0 and report.is_file(), completed.stdout[-3000:] + completed.stderr[-3000:]
    return report
