"""`gradcam-audit compare BASE.json CANDIDATE.json -o compare.html`: the release gate against a baseline, offline.

Both runs are read from their results files (no model runs): each candidate case is compared with its baseline
case by the core (`core/baseline/compare.py`), the report shows the comparison, and the exit status follows the compared
run's verdict (`RunResults.verdict`, the same decision a pytest run makes): 1 unless it passed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gradcam_audit.cli.common import EXIT_FAILED, EXIT_OK, HelpFormatter, UsageError

_EPILOG = """\
BASE is the released model's results.json (or a folder of its shard JSONs); CANDIDATE is the results.json
of the model to release. Cases are matched by spec path, case id and method. Each case keeps the regression
rules its results record (its spec's `baseline:` and the ini's gradcam_baseline_rule); --rule replaces them.
Pictures are read only from inside each results file's own folder.

A case that passed in the baseline and errored or did not run in the candidate has regressed; a run in which
no candidate case matched a baseline case is not a pass.

exit status: 0 the compared run passed (nothing regressed, failed or left unfinished, and cases were compared),
1 it did not, 2 a file is missing or malformed.

examples:
  gradcam-audit compare released/results.json reports/gradcam/results.json -o compare.html
  gradcam-audit compare released/ candidate.json -o compare.html --rule max_mass_rise=0.05 --rule min_heatmap_similarity=0.8
"""

_LISTED = 10


def add_parser(subcommands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subcommands.add_parser(
        "compare",
        help="compare a run with a baseline run (regressions, improvements, new and removed cases)",
        description="Compare a candidate run's results with a baseline run's results and write the comparison report.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("baseline", type=Path, metavar="BASE", help="the baseline's results.json, or a folder of its shard JSONs")
    parser.add_argument("candidate", type=Path, metavar="CANDIDATE", help="the candidate's results.json")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="HTML", help="report file to write")
    parser.add_argument("--rule", action="append", default=[], metavar="KEY=VALUE",
                        help="a regression rule for every case: max_mass_rise, max_lift_drop, must_still_pass, min_heatmap_similarity")
    parser.add_argument("--images", choices=("inline", "files"), default="inline",
                        help="embed pictures in the HTML (default), or link to them where they are")
    parser.set_defaults(handler=run)


def _warn(message: str) -> None:
    print(f"gradcam-audit compare: warning: {message}", file=sys.stderr)


def run(arguments: argparse.Namespace) -> int:
    from gradcam_audit.cli.results_input import read_results_file
    from gradcam_audit.core.baseline.compare import rebaseline_run
    from gradcam_audit.core.baseline.files import load_baseline
    from gradcam_audit.core.baseline.rules import parse_rule_settings
    from gradcam_audit.core.spec.load import display_path
    from gradcam_audit.errors import GradcamAuditError
    from gradcam_audit.rendering.views.comparison_view import build_comparison_view
    from gradcam_audit.rendering.html.html_report import write_html_report
    from gradcam_audit.rendering.text.terminal import summary_line

    if not arguments.baseline.exists():
        raise UsageError(f"baseline not found: {arguments.baseline}")
    if not arguments.candidate.is_file():
        raise UsageError(f"candidate results file not found: {arguments.candidate}")
    if arguments.out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"-o {arguments.out}: give an .html file name")
    try:
        rules = parse_rule_settings(arguments.rule, "--rule")
        baseline = load_baseline([arguments.baseline], read_results_file)
        candidate = read_results_file(arguments.candidate)
    except GradcamAuditError as error:  # a malformed file is the caller's input, not a regression: exit 2
        raise UsageError(str(error)) from None
    # The candidate's pictures are relative to its own folder, and read only from inside it (write_html_report confines them).
    folder = arguments.candidate.resolve().parent
    compared = rebaseline_run(candidate, baseline, rules)
    written = write_html_report(compared, arguments.out.resolve(), inline_images=arguments.images == "inline", images_base=folder,
                                warn=_warn)
    view = build_comparison_view(compared)
    print(f"gradcam-audit compare: {display_path(arguments.candidate.resolve())} against {', '.join(baseline.sources)}")
    if view is not None:
        width = max(len(row.suite) for row in (*view.counts, view.total))
        header = "  ".join(f"{words:>9}" for _, words in view.statuses)
        print(f"  {'suite':<{width}}  {header}")
        for row in (*view.counts, view.total):
            print(f"  {row.suite:<{width}}  " + "  ".join(f"{count:>9}" for count in row.counts))
        regressed = [case for case in view.cases if case.status == "regressed"]
        for case in regressed[:_LISTED]:
            line = f"  REGRESSED {case.label}: {case.sentence.removeprefix('Regressed against the baseline: ')}"
            print(line if len(line) <= 160 else line[:159] + "…")
        if len(regressed) > _LISTED:
            print(f"  … and {len(regressed) - _LISTED} more regressed case(s), see the report")
        for note in view.notes:
            print(f"  note: {note}")
        print(view.headline)
    print(summary_line(compared))
    print(f"wrote {display_path(written)}")
    return EXIT_OK if compared.verdict == "passed" else EXIT_FAILED
