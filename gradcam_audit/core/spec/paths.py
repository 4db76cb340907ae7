"""Where spec files live: finding them on disk, resolving the paths they name, and showing paths as typed."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

DEFAULTS_FILE_NAME = "_defaults.yaml"
SPEC_SUFFIXES = (".yaml", ".yml")


def display_path(path: Path) -> str:
    """The path as a user typed it: relative to the working directory when below it."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def resolve_path(base: Path, relative: str) -> Path | None:
    """``base / relative`` made absolute; None for paths the OS cannot represent (a NUL byte)."""
    if "\x00" in relative:
        return None
    try:
        return (base / relative).resolve()
    except (OSError, ValueError, RuntimeError):
        return None


def is_spec_file(path: Path) -> bool:
    """A .yaml/.yml file that is not a directory's `_defaults.yaml`."""
    return path.suffix.lower() in SPEC_SUFFIXES and path.name != DEFAULTS_FILE_NAME


# A spec has a top-level `model:` or `cases:` key; other YAML in a spec folder (CI files, configs) is not ours.
_TOP_LEVEL_SPEC_KEY = re.compile(r"^(model|cases)\s*:", re.MULTILINE)
_SNIFF_BYTES = 1 << 20


def looks_like_spec(path: Path) -> bool:
    """A cheap look at the text, without parsing it: a top-level `model:` or `cases:` key.

    One of the two is enough, so a spec with a typo in the other key is still checked (and its mistake reported).
    A file that is not readable UTF-8 text counts as a spec too: it is reported as broken, never skipped silently.
    """
    try:
        with path.open("rb") as handle:
            chunk = handle.read(_SNIFF_BYTES)
    except OSError:
        return True
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(chunk) - 4:  # not just a character cut at the end of the chunk
            return True
        text = chunk[: error.start].decode("utf-8")
    return _TOP_LEVEL_SPEC_KEY.search(text) is not None


def discover_spec_files(paths: Iterable[Path | str]) -> list[Path]:
    """Every spec file under the given files/directories, sorted, without duplicates (missing paths are skipped).

    A file named directly is always a spec; inside a folder, only YAML that looks like a spec is.
    """
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).resolve()
        if path.is_dir():
            for candidate in sorted(path.rglob("*")):
                if candidate.is_file() and is_spec_file(candidate) and looks_like_spec(candidate):
                    found[candidate] = None
        elif path.is_file():
            found[path] = None
    return list(found)
