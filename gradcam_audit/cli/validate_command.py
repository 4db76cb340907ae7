"""`gradcam-audit validate PATHS...`: check spec files without running a model (or, with --deep, loading it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gradcam_audit.cli.common import EXIT_FAILED, EXIT_OK, HelpFormatter, UsageError

_EPILOG = """\
Prints every problem as FILE:LINE:COLUMN: FIELD: MESSAGE with a fix, and exits 1; prints one summary
line and exits 0 when every spec is valid. Folders are searched for *.yaml / *.yml. With --deep it also runs
each model on its spec's cases and prints FILE: warning: ... when the predictions look wrong for the chosen
preprocess (all one class, near-uniform, or most expect_class missed); warnings do not change the exit status.

examples:
  gradcam-audit validate specs
  gradcam-audit validate specs/kitchen.yaml specs/voc.yaml
  gradcam-audit validate specs --deep        # also load the models: layers, class counts, input sizes, token layouts
"""


def add_parser(subcommands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subcommands.add_parser(
        "validate",
        help="check spec files: every problem with file, line and fix",
        description="Check spec files: every problem with its file, line, field and fix.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="spec files or folders of spec files")
    parser.add_argument("--deep", action="store_true",
                        help="also load each model (imports TensorFlow) and check layer, labels, output size and a transformer's "
                             "token layout (layer_grid, prefix_tokens, rollout methods) against it; run it on the cases and "
                             "warn when the predictions look wrong for the chosen preprocess")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    from gradcam_audit.core.validate import validate_paths

    missing = [path for path in arguments.paths if not path.exists()]
    if missing:
        raise UsageError(f"not found: {', '.join(map(str, missing))}")
    report = validate_paths(arguments.paths, deep=arguments.deep)
    for problem in report.problems:
        print(problem.format())
    for hint in report.hints:  # warnings: they do not change the exit status
        print(hint.format())
    for kept in report.kept_warnings:  # once each, however many specs and cases raised them
        print(f"note: {kept.note()}")
    print(report.summary())
    return EXIT_OK if report.ok else EXIT_FAILED
