"""Controller side: feeds every entry that reports carry (also across xdist) into the core's ledger, then writes
the outputs and makes pytest's exit status agree with the ledger's verdict."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gradcam_audit.core.ledger.entries import CaseEntry, GateEntry
from gradcam_audit.core.ledger.results_file import write_results
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.records.codec import from_data, to_data
from gradcam_audit.core.run.kept_warnings import KeptWarning, WarningLog, kept_summary
from gradcam_audit.core.files.run_folder import FolderBusyError, OutputWriteError, drop_superseded, lock_folder, supersede_previous
from gradcam_audit.plugin.options import Settings
from gradcam_audit.plugin.state import INLINE_PICTURES_PREFIX, RunState


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


class Journal:
    """Each finished entry appended to JSON Lines beside results.json as it arrives: if the run itself dies (the
    controller killed, the machine lost), what finished is still on disk. Started afresh by every run (the previous
    run's journal was moved aside when this run took the folder)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = False

    def append(self, kind: str, entry: dict[str, Any]) -> None:
        from gradcam_audit.core.records.results import finite_only

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("w" if not self.started else "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"kind": kind, "entry": finite_only(entry)}, ensure_ascii=False, allow_nan=False) + "\n")
            self.started = True
        except OSError:
            pass  # the journal is a safety net; results.json (checked writable up front) is the record


# The share of a run's cases timed after the first one finished before a time-left estimate is printed.
ETA_AFTER_SHARE = 0.2
# An entry an xdist worker sent that the controller cannot read: the two ran different versions.
_SAME_VERSION = "run the controller and its workers with the same gradcam_audit version"


class Progress:
    """Periodic audit progress lines through pytest's terminal reporter: cases done / total, rate, time left.

    pytest's own dots stop at each batch and then come in bursts, so a long audit otherwise looks stuck. One line
    every `--gradcam-progress-every` seconds, in a terminal or a CI log alike; nothing under -q.
    """

    def __init__(self, config: pytest.Config, every_s: float) -> None:
        self.config = config
        self.every_s = every_s
        self.last = time.monotonic()
        # The rate is measured from the first finished case: before it come imports and model loading.
        self.first: tuple[float, int] | None = None

    def case_done(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
            return
        if not self.every_s or now - self.last < self.every_s or self.config.get_verbosity() < 0 or total <= 0:
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        self.last = now
        reporter.ensure_newline()
        measured = done - self.first[1]
        if measured < ETA_AFTER_SHARE * total:
            # Cases finish in bursts, a batch at a time: a rate from the first burst alone is wildly high ("3 %, about
            # 2 s left" on a 57 s run). No estimate until a fair share of the run has been timed after warm-up.
            reporter.write_line(f"gradcam: {done}/{total} cases ({done / total:.0%}), estimating the time left")
            return
        rate = measured / max(now - self.first[0], 1e-9)
        left = (total - done) / rate if rate > 0 else 0.0
        reporter.write_line(f"gradcam: {done}/{total} cases ({done / total:.0%}), {rate:.1f} images/s, about {left:.0f} s left")


def claim_outputs(config: pytest.Config, settings: Settings) -> None:
    """Before anything is computed: lock the output folders for this run, and move the previous run's files aside.

    A second run writing the same folder is refused here, naming the run that holds it; and from this moment no
    results.json or report in the folder claims the previous run's verdict, whatever ends this run.
    """
    outputs = settings.output_paths
    command = "pytest " + " ".join(config.invocation_params.args)
    locks = []
    try:
        for folder in dict.fromkeys(path.parent for path in outputs):
            lock = lock_folder(folder, command)
            locks.append(lock)
            config.add_cleanup(lock.release)
        supersede_previous(settings.superseded_paths, leftovers=(f"{INLINE_PICTURES_PREFIX}*",))
    except (FolderBusyError, OutputWriteError) as error:
        for lock in locks:
            lock.release()
        raise pytest.UsageError(str(error)) from None


def _move_pictures(results: RunResults, base: Path, source: str, target: str) -> RunResults:
    """Move the pictures from ``base/source`` to ``base/target`` and point the entries at their new place."""
    if (base / source).is_dir():
        (base / target).mkdir(parents=True, exist_ok=True)
        for picture in (base / source).iterdir():
            picture.replace(base / target / picture.name)
        shutil.rmtree(base / source, ignore_errors=True)
    prefix = f"{source}/"
    cases = tuple(replace(case, images={kind: f"{target}/{path[len(prefix):]}" if path.startswith(prefix) else path
                                         for kind, path in case.images.items()}) for case in results.cases)
    return replace(results, cases=cases)


def _check_sample_variable() -> None:
    """A malformed GRADCAM_REPORT_SAMPLE_ABOVE stops the run before any case is computed, not at the end."""
    from gradcam_audit.rendering.views.sampling import sample_above_from

    try:
        sample_above_from(os.environ)
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def _unfinished_cause(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> str:
    """Why entries still open at the end did not run, from what pytest knows about how the session ended."""
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted"
    if session.shouldfail:
        return "stopped_early"
    if session.shouldstop:
        return "interrupted"
    return "no_result"


def _drop_entry_data(report: pytest.TestReport, name: str) -> None:
    """Forget the entry's data on the report once the ledger and the journal hold it.

    pytest's terminal reporter keeps every report to the end of the session: with the entry (a few KB of dicts)
    still on each, the controller's memory would grow with the number of cases (about 15 KB a case, measured).
    """
    try:
        delattr(report, name)
    except AttributeError:
        pass


class ResultCollector:
    """Registered only on the controller; entries arrive as JSON-safe data on the reports."""

    def __init__(self, config: pytest.Config, settings: Settings, state: RunState) -> None:
        self.config = config
        self.settings = settings
        self.state = state
        self.started = time.time()
        self.written: list[str] = []
        self.notes: list[str] = []
        self.kept_warnings = WarningLog()  # third-party warnings the reports brought (every process's, each once)
        self.results: RunResults | None = None
        self.write_error: str | None = None
        self.progress = Progress(config, settings.progress_every_s)
        self.journal = Journal(settings.journal_path)
        _check_sample_variable()

    # -- entries ------------------------------------------------------------------------------------

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case_data = getattr(report, "gradcam_case", None)
        gate_data = getattr(report, "gradcam_gate", None)
        warnings_data = getattr(report, "gradcam_warnings", None)
        if warnings_data:
            self.kept_warnings.extend(from_data(KeptWarning, data, f"the warnings of {report.nodeid}", fix=_SAME_VERSION, what="kept warning")
                                      for data in warnings_data)
            _drop_entry_data(report, "gradcam_warnings")
        if case_data is not None:
            self.state.audit.record_case(from_data(CaseEntry, case_data, f"the entry of {report.nodeid}", fix=_SAME_VERSION,
                                                             what="ledger entry"))
            self.journal.append("case", case_data)
            self.progress.case_done(self.state.audit.finished_cases(), self.state.audit.selected_cases())
            _drop_entry_data(report, "gradcam_case")
        elif gate_data is not None:
            self.state.audit.record_gate(from_data(GateEntry, gate_data, f"the entry of {report.nodeid}", fix=_SAME_VERSION,
                                                             what="ledger entry"))
            self.journal.append("gate", gate_data)
        elif report.failed and report.when not in ("setup", "call", "teardown"):
            self._record_crash(report)

    def _record_crash(self, report: pytest.TestReport) -> None:
        """An xdist worker died while running this item (after its one retry): the entry is an error naming it, in the
        ledger and in the journal, like every other entry."""
        key = self.state.key_for_nodeid(report.nodeid)
        # The scheduler's words for the crash (which worker, how it ended; the same the workers read in the notice).
        detail = self.state.crash_details.get(report.nodeid) or (str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "no output")
        if isinstance(key, tuple) and self.state.audit.has_case(key):
            self.journal.append("case", to_data(self.state.audit.record_crash(key, detail)))
            self.notes.append(f"a test process crashed on {report.nodeid}; see that case's reason")
        elif isinstance(key, str) and self.state.audit.has_gate(key):
            self.journal.append("gate", to_data(self.state.audit.record_gate_crash(key, detail)))
            self.notes.append(f"a test process crashed on {report.nodeid}; see that gate's reason")

    # -- the end ------------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
        if not self.state.settings.spec_paths or self.config.option.collectonly:
            return  # listing tests runs nothing: no verdict to write
        if self.state.picture_error is not None:
            self.notes.append(f"pictures were not drawn after a write failed ({self.state.picture_error})")
        results = self.state.audit.ledger(
            unfinished_cause=_unfinished_cause(session, exitstatus),
            started=self.started,
            command="pytest " + " ".join(self.config.invocation_params.args),
            versions=_versions(),
            notes=self.notes,
            warnings=self.kept_warnings.kept(),
        )
        if self.settings.overlay_style is not None:
            results = dataclasses.replace(results, colormap=self.settings.overlay_style.colormap)
        self.results = results
        if not results.entries:
            return
        try:
            self._write(results)
        except OutputWriteError as error:
            # One clear message (pytest_terminal_summary), never an INTERNALERROR; the run did not leave its record.
            self.write_error = str(error)
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            return
        # The exit status and the headline always agree: a run that is not PASSED never exits 0.
        if results.verdict != "passed" and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write(self, results: RunResults) -> None:
        """JSON first, then the HTML, each through the one atomic writer (core/files/run_folder.py)."""
        from gradcam_audit.plugin.state import CASE_IMAGES_FOLDER

        folder = self.settings.results_folder
        inline_folder = self.state.inline_pictures_folder
        inline = self.settings.report is not None and self.settings.report_images == "inline"
        notes: tuple[str, ...] = ()
        if inline:
            from gradcam_audit.rendering.html.html_report import INLINE_LIMIT_BYTES, inline_size_bytes
            from gradcam_audit.rendering.views.sampling import pictures_notice

            sample = self.state.case_sample
            if sample.active:
                # A huge run: the report shows a sample of its passes, and its pictures are files (drawn only for those).
                results = _move_pictures(results, folder, inline_folder, CASE_IMAGES_FOLDER)
                inline = False
                notes = (pictures_notice(sample, CASE_IMAGES_FOLDER),)
                self.written.append(f"pictures as files, passes sampled ({sample.planned_cases:,} cases)")
            elif inline_size_bytes(results, folder) > INLINE_LIMIT_BYTES:
                # Too big for one file: keep the pictures as files beside the report, and say so.
                results = _move_pictures(results, folder, inline_folder, CASE_IMAGES_FOLDER)
                inline = False
                notes = (f"The pictures would make this report larger than {INLINE_LIMIT_BYTES // 1_000_000} MB, so they are files "
                         f"in {CASE_IMAGES_FOLDER}/ beside the results (keep that folder with the report).",)
                self.written.append(f"pictures as files (over {INLINE_LIMIT_BYTES // 1_000_000} MB inline)")
        # The pictures of an inline report live in the report only; JSON consumers who need files use --gradcam-report-images files.
        json_results = replace(results, cases=tuple(replace(case, images={}) for case in results.cases)) if inline else results
        try:
            write_results(json_results, self.settings.json_path)
            if self.settings.report is not None:
                from gradcam_audit.rendering.html.html_report import write_html_report

                write_html_report(results, self.settings.report, inline_images=inline, images_base=folder, notes=notes,
                                  sample=self.state.case_sample)
                self.written.append(f"report {os.path.relpath(self.settings.report)}")
        finally:
            shutil.rmtree(folder / inline_folder, ignore_errors=True)
        self.written.append(f"JSON {os.path.relpath(self.settings.json_path)}")
        if self.settings.dossier is not None:  # after the JSON it hashes (plugin/dossier_output.py)
            from gradcam_audit.plugin.dossier_output import write_dossier_outputs

            self.written.append(write_dossier_outputs(results, self.settings))
        drop_superseded(self.settings.superseded_paths)
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_path:
            from gradcam_audit.rendering.text.markdown import markdown_summary

            report_link = os.path.relpath(self.settings.report) if self.settings.report else None
            try:
                with open(summary_path, "a", encoding="utf-8") as handle:
                    handle.write(markdown_summary(json_results, report_link) + "\n")
            except OSError as error:
                raise OutputWriteError(f"cannot append to the GitHub step summary {summary_path}: {error.strerror or error}") from None
            self.written.append("GitHub step summary")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.results is None or not self.results.entries:
            return
        from gradcam_audit.rendering.text.terminal import summary_line

        self.kept_warnings.extend(self.state.audit.runner.batches.warnings.kept())  # those of this process not yet reported
        kept = kept_summary(self.kept_warnings.kept(), "the report's notes" if self.settings.report is not None and self.written
                            else "results.json's notes")
        terminalreporter.write_sep("-", summary_line(self.results) + (f"; {kept}" if kept else "")
                                   + (f" → {'; '.join(self.written)}" if self.written else ""))
        if self.write_error is not None:
            terminalreporter.write_sep("!", f"gradcam: the run's results were not saved: {self.write_error}", red=True, bold=True)
        from gradcam_audit.rendering.views.outside_view import terminal_lines

        for line in terminal_lines(self.results):  # beyond the boxes: the findings in words
            terminalreporter.write_line(line)
