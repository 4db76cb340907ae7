"""The `gradcam-audit` command: one entry point for import, init, explain, validate and report."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from gradcam_audit.cli import (
    compare_command,
    discover_command,
    explain_command,
    import_command,
    init_command,
    report_command,
    validate_command,
)
from gradcam_audit.cli.common import EXIT_FAILED, EXIT_USAGE, HelpFormatter, UsageError, package_version
from gradcam_audit.cli.quiet import silence_tensorflow
from gradcam_audit.errors import GradcamAuditError

_EPILOG = """\
examples:
  gradcam-audit init                                   # scaffold specs/ with a commented example
  gradcam-audit import coco ann.json --images img/ --model m.keras --labels cat,dog -o specs/pets.yaml
  gradcam-audit validate specs                         # every problem with file:line and a fix
  gradcam-audit explain photo.jpg --model m.keras --labels cat,dog -o photo.png
  gradcam-audit report a/results.json b/results.json -o merged.html
  gradcam-audit discover specs --sample 50 -o suggested.yaml   # what the model relies on outside your regions

Run `gradcam-audit COMMAND --help` for a command's options. Exit status: 0 ok, 1 problems found, 2 usage error.
"""


# Commands that load a model up front; the others never import TensorFlow (validate only with --deep). `explain`
# and `init --model` silence TensorFlow themselves, after their cheap argument checks, so a usage mistake is answered
# at once.
TENSORFLOW_COMMANDS = ("validate",)


def _needs_tensorflow(arguments: argparse.Namespace) -> bool:
    return arguments.command != "validate" or bool(getattr(arguments, "deep", False))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradcam-audit",
        description="Grad-CAM attention audits: write, check and explain the YAML specs pytest runs.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up and log lines (hidden by default)")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (init_command, import_command, validate_command, explain_command, report_command, compare_command, discover_command):
        module.add_parser(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 problems found, 2 usage error)."""
    arguments_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    arguments = parser.parse_args(arguments_list)  # exits 2 with the usage on a bad command line
    arguments.command_line = shlex.join(["gradcam-audit", *arguments_list])
    if not arguments.verbose and arguments.command in TENSORFLOW_COMMANDS and _needs_tensorflow(arguments):
        silence_tensorflow()
    try:
        return int(arguments.handler(arguments))
    except UsageError as error:
        print(f"gradcam-audit {arguments.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except GradcamAuditError as error:
        print(f"gradcam-audit {arguments.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as error:  # unwritable output, disk full: a message, not a traceback
        print(f"gradcam-audit {arguments.command}: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
