"""Which YAML files given to pytest by name are audit specs (`pytest specs/x.yaml::case-1` without --gradcam-specs)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from gradcam_audit.core.spec.paths import is_spec_file, looks_like_spec


def explicit_spec_files(arguments: Iterable[str], invocation: Path) -> tuple[Path, ...]:
    """The spec files named on the command line (with or without ``::case-id``); other YAML is left alone."""
    found: list[Path] = []
    for argument in arguments:
        path = (invocation / argument.split("::", 1)[0]).resolve()
        if path.is_file() and is_spec_file(path) and looks_like_spec(path):
            found.append(path)
    return tuple(dict.fromkeys(found))
