"""Controller side: feeds every entry that reports carry (also across xdist) into the core's ledger, then writes
the outputs and makes pytest's exit status agree with the ledger's verdict."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import pytest

from gradcam_audit.core.ledger import CaseEntry, GateEntry, RunResults, write_results
from gradcam_audit.plugin.options import Settings
from gradcam_audit.plugin.state import RunState


def _versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for package in ("gradcam_audit", "tensorflow", "keras", "numpy", "pytest"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["python"] = sys.version.split()[0]
    return versions


def _unfinished_cause(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> str:
    """Why entries still open at the end did not run, from what pytest knows about how the session ended."""
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted"
    if session.shouldfail:
        return "stopped_early"
    if session.shouldstop:
        return "interrupted"
    return "no_result"


class ResultCollector:
    """Registered only on the controller; entries arrive as JSON-safe data on the reports."""

    def __init__(self, config: pytest.Config, settings: Settings, state: RunState) -> None:
        self.config = config
        self.settings = settings
        self.state = state
        self.started = time.time()
        self.written: list[str] = []
        self.notes: list[str] = []
        self.results: RunResults | None = None

    # -- entries ------------------------------------------------------------------------------------

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case_data = getattr(report, "gradcam_case", None)
        gate_data = getattr(report, "gradcam_gate", None)
        if case_data is not None:
            self.state.audit.record_case(CaseEntry.from_dict(case_data))
        elif gate_data is not None:
            self.state.audit.record_gate(GateEntry.from_dict(gate_data))
        elif report.failed and report.when not in ("setup", "call", "teardown"):
            self._record_crash(report)

    def _record_crash(self, report: pytest.TestReport) -> None:
        """An xdist worker died while running this item (after its one retry): the entry is an error naming it."""
        key = self.state.key_for_nodeid(report.nodeid)
        if not isinstance(key, tuple) or not self.state.audit.has_case(key):
            return
        detail = str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "no output"
        crash = self.state.crash_details.get(report.nodeid, "")
        reason = (f"the test process crashed while computing this case ({detail}{'; ' + crash if crash else ''}); "
                  "it was retried once, alone, and crashed again: look for what kills the process (out of memory, a native crash, "
                  "a signal sent by your own code)")
        self.state.audit.record_crash(key, reason)
        self.notes.append(f"a test process crashed on {report.nodeid}; see that case's reason")

    # -- the end ------------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
        if not self.state.settings.spec_paths:
            return
        results = self.state.audit.ledger(
            unfinished_cause=_unfinished_cause(session, exitstatus),
            started=self.started,
            command="pytest " + " ".join(self.config.invocation_params.args),
            versions=_versions(),
            notes=self.notes,
        )
        self.results = results
        if not results.entries:
            return
        self._write(results)
        # The exit status and the headline always agree: a run that is not PASSED never exits 0.
        if results.verdict != "passed" and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write(self, results: RunResults) -> None:
        write_results(results, self.settings.json_path)
        self.written.append(f"JSON {os.path.relpath(self.settings.json_path)}")
        if self.settings.report is not None:
            from gradcam_audit.rendering.html_report import write_html_report

            write_html_report(results, self.settings.report, inline_images=self.settings.report_images == "inline",
                              images_base=self.settings.results_folder)
            self.written.append(f"report {os.path.relpath(self.settings.report)}")
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_path:
            from gradcam_audit.rendering.markdown import markdown_summary

            report_link = os.path.relpath(self.settings.report) if self.settings.report else None
            with open(summary_path, "a", encoding="utf-8") as handle:
                handle.write(markdown_summary(results, report_link) + "\n")
            self.written.append("GitHub step summary")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.results is None or not self.results.entries:
            return
        from gradcam_audit.rendering.terminal import summary_line

        terminalreporter.write_sep("-", summary_line(self.results) + (f" → {'; '.join(self.written)}" if self.written else ""))
