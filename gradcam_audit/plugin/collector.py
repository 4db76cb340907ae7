"""Controller side: gathers case results from test reports (also across xdist) and writes the outputs."""

from __future__ import annotations

import os
import re
import sys
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from gradcam_audit.core.results import CaseResult, GateResult, RunResults, case_from_dict, gate_from_dict, write_results
from gradcam_audit.plugin.options import Settings

_NODEID = re.compile(r"^(?P<spec>.+?\.ya?ml)::(?P<id>.+?)(?:\[(?P<method>[^\]]+)\])?$")


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


class ResultCollector:
    """Registered only on the controller; results arrive as JSON-safe data on the reports."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.cases: dict[str, CaseResult] = {}
        self.gates: dict[str, GateResult] = {}
        self.started = time.time()
        self.written: list[str] = []

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case_data = getattr(report, "gradcam_case", None)
        gate_data = getattr(report, "gradcam_gate", None)
        if case_data is not None:
            self.cases[report.nodeid] = case_from_dict(case_data)
        elif gate_data is not None:
            self.gates[report.nodeid] = gate_from_dict(gate_data)
        elif report.failed and report.when not in ("setup", "call", "teardown"):
            # An xdist worker died while running this item: keep the case, as an error, in the report.
            self._record_crash(report)

    def _record_crash(self, report: pytest.TestReport) -> None:
        match = _NODEID.match(report.nodeid)
        if match is None or report.nodeid in self.cases:
            return
        self.cases[report.nodeid] = CaseResult(
            spec=match["spec"],
            id=match["id"],
            method=match["method"] or "gradcam",
            status="error",
            reason=f"the test process crashed while running this case: {str(report.longrepr).strip().splitlines()[-1] if report.longrepr else 'no output'}",
            nodeid=report.nodeid,
        )

    def results(self) -> RunResults:
        return RunResults(
            cases=tuple(self.cases.values()),
            gates=tuple(self.gates.values()),
            started=datetime.fromtimestamp(self.started, timezone.utc).isoformat(timespec="seconds"),
            duration_s=round(time.time() - self.started, 3),
            command="pytest " + " ".join(self.config.invocation_params.args),
            versions=_versions(),
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.cases and not self.gates:
            return
        results = self.results()
        write_results(results, self.settings.json_path)
        self.written.append(f"JSON {os.path.relpath(self.settings.json_path)}")
        if self.settings.report is not None:
            from gradcam_audit.rendering.html_report import write_html_report

            write_html_report(results, self.settings.report, inline_images=self.settings.report_images == "inline")
            self.written.append(f"report {os.path.relpath(self.settings.report)}")
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_path:
            from gradcam_audit.rendering.markdown import markdown_summary

            report_link = os.path.relpath(self.settings.report) if self.settings.report else None
            with open(summary_path, "a", encoding="utf-8") as handle:
                handle.write(markdown_summary(results, report_link) + "\n")
            self.written.append("GitHub step summary")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.cases and not self.gates:
            return
        counts: dict[str, int] = {}
        for case in self.cases.values():
            counts[case.status] = counts.get(case.status, 0) + 1
        gate_counts: dict[str, int] = {}
        for gate in self.gates.values():
            gate_counts[gate.status] = gate_counts.get(gate.status, 0) + 1
        parts = [f"{count} {status}" for status, count in sorted(counts.items())]
        if self.gates:
            parts.append("gates: " + ", ".join(f"{count} {status}" for status, count in sorted(gate_counts.items())))
        terminalreporter.write_sep("-", "gradcam audit: " + ", ".join(parts) + (f" → {'; '.join(self.written)}" if self.written else ""))
