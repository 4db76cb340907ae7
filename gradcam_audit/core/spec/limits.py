"""Size limits on what a user's files may make us read: bytes per spec file and YAML nodes after alias expansion.

A spec is small text; a file far larger, or a YAML "billion laughs" (aliases of aliases), would otherwise take
unbounded memory and time. Each limit can be raised through an environment variable for a genuinely huge suite.
"""

from __future__ import annotations

import os
from pathlib import Path

from gradcam_audit.errors import InputTooLargeError, LimitSettingError

MAX_SPEC_BYTES_VARIABLE = "GRADCAM_MAX_SPEC_BYTES"
MAX_YAML_NODES_VARIABLE = "GRADCAM_MAX_YAML_NODES"
DEFAULT_MAX_SPEC_BYTES = 5_000_000  # 5 MB: an imported spec of ~20 000 polygon cases
# Every scalar, list and mapping counted once per place it appears, aliases expanded. A 5 MB spec written without
# aliases has at most ~2.5 million (a flow list of one-digit numbers); a billion-laughs file has 10^9.
DEFAULT_MAX_YAML_NODES = 3_000_000


def _limit(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise LimitSettingError(f"{variable}={raw!r} is not a positive whole number; unset it (default {default}) or "
                                f"give e.g. {variable}={default * 4}")
    return value


def max_spec_bytes() -> int:
    """The most bytes a spec, `_defaults.yaml` or labels file may have (GRADCAM_MAX_SPEC_BYTES, default 5 MB)."""
    return _limit(MAX_SPEC_BYTES_VARIABLE, DEFAULT_MAX_SPEC_BYTES)


def max_yaml_nodes() -> int:
    """The most YAML nodes a file may expand to, aliases included (GRADCAM_MAX_YAML_NODES, default 3 000 000)."""
    return _limit(MAX_YAML_NODES_VARIABLE, DEFAULT_MAX_YAML_NODES)


def read_bounded_text(path: Path, what: str = "spec file") -> str:
    """The UTF-8 text of a regular file of at most ``max_spec_bytes()`` bytes.

    Raises:
        InputTooLargeError: the file is larger than the limit (the message names the variable that raises it).
        IsADirectoryError / OSError: not a regular file (a folder, a FIFO, a device), or unreadable.
        UnicodeDecodeError: not UTF-8.
    """
    limit = max_spec_bytes()
    if path.exists() and not path.is_file():
        # A FIFO or a device would block or never end; a folder cannot be read.
        raise IsADirectoryError(21, "not a regular file (a folder, pipe or device)", str(path))
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise InputTooLargeError(f"the {what} is larger than {limit:,} bytes, the limit for one {what}")
    return data.decode("utf-8")


def spec_bytes_fix() -> str:
    """How to get a file past the byte limit: split it, or raise the limit."""
    example = DEFAULT_MAX_SPEC_BYTES * 4
    return (f"split it into several files, or raise the limit with the environment variable {MAX_SPEC_BYTES_VARIABLE} "
            f"(e.g. {MAX_SPEC_BYTES_VARIABLE}={example})")


LIMIT_SETTING_FIX = f"unset {MAX_SPEC_BYTES_VARIABLE} / {MAX_YAML_NODES_VARIABLE}, or give each a positive whole number"
