"""The dossier: a print-ready PDF an auditor can file (the verdict, each suite, the failures with their pictures and
the manifest), printed from self-contained HTML by headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from gradcam_audit.core.ledger.entries import CaseEntry

from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.ledger.manifest import Manifest
from gradcam_audit.errors import GradcamAuditError
from gradcam_audit.rendering.html.html_report import warn_on_stderr
from gradcam_audit.rendering.views.view_models import CaseView, ReportView, build_report_view

# Where a Chromium is looked for, in this order; GRADCAM_CHROMIUM names one anywhere else.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
CHROMIUM_VARIABLE = "GRADCAM_CHROMIUM"
PRINT_TIMEOUT_S = 180
# The failures shown with their pictures; beyond this they are listed in words (results.json and the report hold all).
PICTURED_CASES = 100
LISTED_NOT_RUN = 50
_ATTENTION_STATUSES = ("failed", "error", "xpassed", "xfailed")


class DossierEngineMissing(GradcamAuditError):
    """No PDF engine (headless Chromium) was found."""


class DossierPrintError(GradcamAuditError):
    """Chromium ran but wrote no PDF."""


@dataclass(frozen=True)
class DossierView:
    """Everything the dossier shows, formatted; the template only lays it out."""

    report: ReportView
    failures: tuple[CaseView, ...]  # blocking cases first, then expected failures, each with its pictures
    unpictured: int  # failures beyond PICTURED_CASES, listed without pictures
    not_run: tuple[str, ...]
    manifest: Manifest
    file_rows: tuple[tuple[str, str, str, str, str], ...]  # role, path, sha256, size, what is wrong with it ("" when nothing)


def find_chromium() -> Path:
    """The Chromium to print with: $GRADCAM_CHROMIUM, else the first of CHROMIUM_NAMES on PATH.

    Raises:
        DossierEngineMissing: none found, naming what to install.
    """
    named = os.environ.get(CHROMIUM_VARIABLE)
    if named:
        found = shutil.which(named)
        if found is None:
            raise DossierEngineMissing(f"{CHROMIUM_VARIABLE}={named!r} is not an executable; give the path of a Chromium or "
                                       "Chrome, or unset it to look on PATH")
        return Path(found)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found is not None:
            return Path(found)
    raise DossierEngineMissing(
        "writing a PDF dossier needs headless Chromium, and none was found on PATH (looked for "
        f"{', '.join(CHROMIUM_NAMES)}); install it (Debian/Ubuntu: apt-get install chromium; Fedora: dnf install chromium; "
        f"macOS: brew install --cask chromium) or set {CHROMIUM_VARIABLE} to its path; or write the HTML report instead (-o report.html)")


def _entry_for(case: CaseView, entries: dict[tuple[str, str, str], CaseEntry]) -> CaseEntry | None:
    return entries.get((case.suite, case.method, case.case_id))


def _pictures(case: CaseView, entry: CaseEntry | None, images_base: Path, working_folder: Path,
              warn: Callable[[str], None]) -> CaseView:
    """The case with its pictures as data URIs: the files the run wrote (through the picture door), else drawn from
    the stored heatmap (an inline run keeps no picture files)."""
    from gradcam_audit.rendering.pictures.heatmap_pictures import drawn_pictures
    from gradcam_audit.rendering.pictures.picture_door import door_data_uris

    context = f"case {case.case_id!r}: "
    images = door_data_uris(case.images, images_base, warn, context)
    if not images and entry is not None and entry.result is not None:
        images = drawn_pictures(entry.result, working_folder, warn, context)
    return replace(case, images=images)


def _size_text(size: int | None) -> str:
    return "—" if size is None else f"{size:,} bytes"


def build_dossier_view(results: RunResults, manifest: Manifest, *, images_base: Path, working_folder: Path,
                       warn: Callable[[str], None] = warn_on_stderr) -> DossierView:
    report = build_report_view(results)
    entries: dict[tuple[str, str, str], CaseEntry] = {}
    for entry in results.cases:  # the id as the view shows it, with or without the method
        entries.setdefault((entry.spec, entry.method, entry.id), entry)
        entries.setdefault((entry.spec, entry.method, f"{entry.id} [{entry.method}]"), entry)
    attention = [case for case in report.cases if case.status in _ATTENTION_STATUSES]
    attention.sort(key=lambda case: (not case.blocking, _ATTENTION_STATUSES.index(case.status)))
    failures = tuple(_pictures(case, _entry_for(case, entries), images_base, working_folder, warn) if number < PICTURED_CASES
                     else replace(case, images={}) for number, case in enumerate(attention))
    not_run = [f"{entry.spec} · {entry.id} [{entry.method}]: {entry.reason or entry.cause}" for entry in results.cases
               if entry.status == "not_run"] + [f"{gate.spec} · gate: {gate.reason or gate.cause}" for gate in results.gates
                                                if gate.status == "not_run"]
    if len(not_run) > LISTED_NOT_RUN:  # a shard's dossier would list every other shard's case
        not_run = [*not_run[:LISTED_NOT_RUN], f"… and {len(not_run) - LISTED_NOT_RUN:,} more (every entry is in results.json)"]
    rows = tuple((file.role, file.path, file.sha256 or "—", _size_text(file.size_bytes),
                  f"no hash: {file.note}" if file.sha256 is None
                  else f"changed since the audit (the run recorded {file.recorded_sha256})" if file.matches_run is False else "")
                 for file in manifest.files)
    return DossierView(report, failures, max(0, len(attention) - PICTURED_CASES), tuple(not_run), manifest, rows)


def render_dossier_html(view: DossierView) -> str:
    """Self-contained HTML (inline CSS, pictures as data URIs); its CSP forbids loading anything from elsewhere."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    environment = Environment(loader=PackageLoader("gradcam_audit.rendering.html", "templates"), autoescape=select_autoescape(["html", "j2"], default=True),
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("dossier.html.j2").render(dossier=view, report=view.report, manifest=view.manifest,
                                                              pictured=PICTURED_CASES)


def print_pdf(html: str, path: Path, chromium: Path | None = None) -> Path:
    """``html`` printed to ``path`` by headless Chromium, written beside and renamed so no half PDF is ever left.

    The page is opened from a private temporary folder with networking off; its CSP allows only inline styles and
    data: pictures, so printing never reaches the network.

    Raises:
        DossierEngineMissing: no Chromium; DossierPrintError: Chromium wrote no PDF (its last output lines say why).
    """
    engine = chromium or find_chromium()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with tempfile.TemporaryDirectory(prefix="gradcam-dossier-", ignore_cleanup_errors=True) as folder:
        page = Path(folder) / "dossier.html"
        page.write_text(html, encoding="utf-8")
        command = [str(engine), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                   "--disable-background-networking", "--disable-sync", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                   f"--user-data-dir={Path(folder) / 'profile'}", "--no-pdf-header-footer", "--print-to-pdf-no-header",
                   f"--print-to-pdf={partial}", page.as_uri()]
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S, check=False,
                                       stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            partial.unlink(missing_ok=True)
            raise DossierPrintError(f"{engine} did not finish printing the dossier within {PRINT_TIMEOUT_S} s") from None
        except OSError as error:
            raise DossierEngineMissing(f"cannot start {engine} ({error.strerror or error}); install Chromium or set "
                                       f"{CHROMIUM_VARIABLE} to a working one") from None
    if not partial.is_file() or partial.read_bytes()[:5] != b"%PDF-":
        partial.unlink(missing_ok=True)
        detail = " / ".join(line for line in (completed.stderr or "").strip().splitlines()[-3:]) or f"exit status {completed.returncode}"
        raise DossierPrintError(f"{engine} wrote no PDF ({detail})")
    os.replace(partial, path)
    return path


def write_dossier(results: RunResults, manifest: Manifest, path: Path, *, images_base: Path, working_folder: Path,
                  warn: Callable[[str], None] = warn_on_stderr, chromium: Path | None = None) -> Path:
    """The dossier PDF of ``results`` with ``manifest``. Case pictures are read only from inside ``images_base``
    (files the run wrote) or drawn from the stored heatmaps over the images under ``working_folder``."""
    engine = chromium or find_chromium()  # before any picture is drawn: a missing engine is said at once
    view = build_dossier_view(results, manifest, images_base=images_base, working_folder=working_folder, warn=warn)
    return print_pdf(render_dossier_html(view), path, engine)
