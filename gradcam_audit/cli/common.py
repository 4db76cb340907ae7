"""What every subcommand shares: the usage error, label options, argument parsers and progress on stderr."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gradcam_audit.errors import GradcamAuditError

EXIT_OK = 0
EXIT_FAILED = 1  # validation failures, bad annotations, a model that cannot be explained
EXIT_USAGE = 2  # wrong options or files that do not exist


class UsageError(GradcamAuditError, ValueError):
    """The command line asks for something impossible; the message says what to type instead."""


def package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("gradcam_audit")
    except metadata.PackageNotFoundError:
        return "unknown"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples in the epilog as written (defaults are spelled out in each option's help)."""


def add_labels_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--labels", metavar="A,B,C", help="the model's class names in output order, comma-separated")
    group.add_argument("--labels-file", metavar="FILE", type=Path, help="text file with the model's class names, one per line, in output order")


def read_labels(arguments: argparse.Namespace) -> tuple[str, ...] | None:
    """The labels given by --labels or --labels-file, or None."""
    if getattr(arguments, "labels", None):
        labels = tuple(name.strip() for name in arguments.labels.split(",") if name.strip())
        if not labels:
            raise UsageError("--labels is empty; give the class names in output order, e.g. --labels cat,dog")
        return labels
    labels_file: Path | None = getattr(arguments, "labels_file", None)
    if labels_file is not None:
        if not labels_file.is_file():
            raise UsageError(f"--labels-file: {labels_file} not found")
        labels = tuple(line.strip() for line in labels_file.read_text(encoding="utf-8").splitlines() if line.strip())
        if not labels:
            raise UsageError(f"--labels-file: {labels_file} has no class names (one per line expected)")
        return labels
    return None


def comma_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def existing_path(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text} not found")
    return path


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text}")
    return value


def non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 0, got {text}")
    return value


class Progress:
    """'[12/300] name' on stderr: redrawn in place on a terminal, every ~10% in a CI log; silent for one item."""

    def __init__(self, total: int, label: str) -> None:
        self.total = total
        self.label = label
        self.terminal = sys.stderr.isatty()
        self.step = max(1, total // 10)
        self.started = time.monotonic()

    def update(self, done: int, name: str = "") -> None:
        if self.total <= 1:
            return
        text = f"{self.label} [{done}/{self.total}] {name}"
        if self.terminal:
            sys.stderr.write("\r\033[K" + text)
            if done == self.total:
                sys.stderr.write("\n")
        elif done % self.step == 0 or done == self.total:
            sys.stderr.write(text + f" ({time.monotonic() - self.started:.0f} s)\n")
        sys.stderr.flush()
