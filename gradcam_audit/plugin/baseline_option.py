"""`--gradcam-baseline` / `gradcam_baseline_rule`: the baseline files found and read, the rules checked (glue only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def read_baseline_option(config: pytest.Config, invocation: Path, ini_base: Path) -> tuple[Any, tuple[tuple[str, Any], ...]]:
    """The loaded baseline (or None) and the ini's / command line's regression rules.

    Command-line paths are relative to where pytest was started, ini paths to the ini file's folder (pytest resolves
    ``paths`` ini values that way). A baseline that cannot be read is a usage error naming the file (exit status 4).
    """
    from gradcam_audit.cli.results_input import read_results_file
    from gradcam_audit.core.baseline.files import load_baseline
    from gradcam_audit.core.baseline.rules import parse_rule_settings
    from gradcam_audit.errors import GradcamAuditError

    command_line = config.getoption("gradcam_baseline") or []
    paths = [(invocation / str(path)).resolve() for path in command_line]
    if not paths:
        paths = [(ini_base / str(path)).resolve() for path in (config.getini("gradcam_baseline") or [])]
    rule_items = config.getoption("gradcam_baseline_rule") or config.getini("gradcam_baseline_rule") or []
    try:
        rules = parse_rule_settings(rule_items, "--gradcam-baseline-rule")
        baseline = load_baseline(paths, read_results_file) if paths else None
    except GradcamAuditError as error:
        raise pytest.UsageError(f"--gradcam-baseline: {error}") from None
    return baseline, tuple(rules.items())
