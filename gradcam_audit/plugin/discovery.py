"""Which YAML files given to pytest by name are audit specs (`pytest specs/x.yaml::case-1` without --gradcam-specs)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from gradcam_audit.core.spec.paths import is_spec_file

# A spec has top-level `model:` and `cases:` keys; other YAML (CI files, configs) is left to other plugins.
_TOP_LEVEL_KEY = re.compile(r"^(model|cases)\s*:", re.MULTILINE)
_SNIFF_BYTES = 1 << 20


def looks_like_spec(path: Path) -> bool:
    """A cheap look at the file's text, without parsing it: both top-level keys of a spec are present."""
    try:
        with path.open("rb") as handle:
            text = handle.read(_SNIFF_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return False
    return {match.group(1) for match in _TOP_LEVEL_KEY.finditer(text)} == {"model", "cases"}


def explicit_spec_files(arguments: Iterable[str], invocation: Path) -> tuple[Path, ...]:
    """The spec files named on the command line (with or without ``::case-id``)."""
    found: list[Path] = []
    for argument in arguments:
        path = (invocation / argument.split("::", 1)[0]).resolve()
        if path.is_file() and is_spec_file(path) and looks_like_spec(path):
            found.append(path)
    return tuple(dict.fromkeys(found))
