"""`gradcam-audit report a.json [b.json ...] -o report.html`: merge JSON results (CI shards) into one HTML report,
or, with `-o dossier.pdf`, into a PDF dossier with its manifest (rendering/html/dossier.py, core/ledger/manifest.py).

The exit status is the merged run's verdict (`RunResults.verdict`, the decision every entry point shares): 0 when it
passed, 1 when it failed or is incomplete, 2 for unusable input (a missing or malformed results file).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gradcam_audit.cli.common import EXIT_FAILED, EXIT_OK, HelpFormatter, UsageError

if TYPE_CHECKING:
    from gradcam_audit.core.ledger.run_results import RunResults

_EPILOG = """\
Each JSON file is what a run wrote beside its report (results.json, or --gradcam-json); case pictures
are found relative to each JSON file's folder, and only inside it: a picture path that is absolute,
uses '..' or leaves the folder through a symlink is skipped with a warning. With --images files the HTML links to those pictures
(keep the folders where they are); inline (default) embeds them, so the HTML is one portable file.

With -o NAME.pdf it writes a print-ready dossier instead (verdict, suites, failures with their pictures, and
a manifest with versions and the SHA-256 of every model, spec, image and results file), printed by headless
Chromium, and the same manifest as manifest.json beside the PDF. Run it in the folder the audit ran in: the
results name the model, spec and image files relative to it.

exit status: 0 when the merged run passed, 1 when it failed or is incomplete (the same verdict as pytest's),
2 when a results file is missing or malformed.

examples:
  gradcam-audit report shard-1/results.json shard-2/results.json -o merged/index.html
  gradcam-audit report reports/gradcam/results.json -o reports/gradcam/dossier.pdf
  gradcam-audit report reports/gradcam/results.json -o audit.html --images files
"""


def add_parser(subcommands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subcommands.add_parser(
        "report",
        help="merge JSON results into one HTML report (or a PDF dossier: -o NAME.pdf)",
        description="Merge JSON results files into one HTML report.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("results", nargs="+", type=Path, metavar="JSON", help="results files written by pytest --gradcam-*")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="HTML", help="report file to write (.html; .pdf writes the dossier)")
    parser.add_argument("--images", choices=("inline", "files"), default="inline",
                        help="embed case pictures in the HTML (default), or link to them where they are")
    parser.set_defaults(handler=run)


def _common_base(folders: list[Path]) -> Path:
    try:
        return Path(os.path.commonpath([str(folder) for folder in folders]))
    except ValueError:  # different drives on Windows: no common folder
        raise UsageError("the JSON files are on different drives; copy them (with their case images) under one folder") from None


def _warn(message: str) -> None:
    print(f"gradcam-audit report: warning: {message}", file=sys.stderr)


def run(arguments: argparse.Namespace) -> int:
    from gradcam_audit.cli.results_input import read_results_file
    from gradcam_audit.core.ledger.merge import merge_results
    from gradcam_audit.core.spec.load import display_path
    from gradcam_audit.errors import GradcamAuditError
    from gradcam_audit.rendering.html.html_report import confined_pictures, skipped_picture_notes, write_html_report
    from gradcam_audit.rendering.text.terminal import summary_line

    missing = [path for path in arguments.results if not path.is_file()]
    if missing:
        raise UsageError(f"results file not found: {', '.join(map(str, missing))}")
    if arguments.out.suffix.lower() not in (".html", ".htm", ".pdf"):
        raise UsageError(f"-o {arguments.out}: give an .html file name (or .pdf for the dossier)")
    folders = [path.resolve().parent for path in arguments.results]
    base = _common_base(folders)
    runs: list[RunResults] = []
    skipped: list[str] = []  # a picture refused here is said in the report too
    for path, folder in zip(arguments.results, folders):
        try:
            run_results = read_results_file(path)
        except GradcamAuditError as error:  # a malformed file is the caller's input, not a failed audit: exit 2
            raise UsageError(str(error)) from None
        # Picture paths are relative to each JSON's folder and confined to it (a results file is untrusted data);
        # the ones allowed are rewritten against one base for the merged report.
        cases = []
        for case in run_results.cases:
            pictures = confined_pictures(case.images, folder, _warn, f"{path}: case {case.id!r}: ", skipped.append)
            cases.append(replace(case, images={kind: Path(os.path.relpath(picture, base)).as_posix()
                                               for kind, picture in pictures.items()}))
        runs.append(replace(run_results, cases=tuple(cases)))
    merged = merge_results(runs)
    if arguments.out.suffix.lower() == ".pdf":
        return _write_dossier(merged, arguments.results, arguments.out, base)
    written = write_html_report(merged, arguments.out.resolve(), inline_images=arguments.images == "inline", images_base=base,
                                warn=_warn, notes=skipped_picture_notes(skipped))
    statuses: dict[str, int] = {}
    for case in merged.cases:
        statuses[case.status] = statuses.get(case.status, 0) + 1
    summary = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items())) or "no cases"
    print(f"wrote {display_path(written)}: {len(merged.cases)} case(s) ({summary}), {len(merged.gates)} gate(s) "
          f"from {len(runs)} results file(s)")
    print(summary_line(merged))
    return _verdict_exit(merged)


def _write_dossier(merged: RunResults, results_files: list[Path], out: Path, images_base: Path) -> int:
    """The dossier and manifest.json beside it; the files the results name are found from the working folder."""
    from gradcam_audit.core.ledger.manifest import MANIFEST_FILE_NAME, build_manifest, write_manifest
    from gradcam_audit.core.spec.load import display_path
    from gradcam_audit.rendering.html.dossier import find_chromium, write_dossier
    from gradcam_audit.rendering.text.terminal import summary_line

    engine = find_chromium()  # no engine: say so before writing anything
    manifest = build_manifest(merged, results_files, Path.cwd())
    manifest_path = write_manifest(manifest, out.resolve().parent / MANIFEST_FILE_NAME)
    written = write_dossier(merged, manifest, out.resolve(), images_base=images_base, working_folder=Path.cwd(), warn=_warn,
                            chromium=engine)
    print(f"wrote {display_path(written)} (verdict {merged.verdict}) and {display_path(manifest_path)} "
          f"(manifest SHA-256 {manifest.sha256})")
    print(summary_line(merged))
    return _verdict_exit(merged)


def _verdict_exit(merged: RunResults) -> int:
    """The one verdict decides the exit status, whichever document was written."""
    return EXIT_OK if merged.verdict == "passed" else EXIT_FAILED
