"""Where spec files live: finding them on disk, resolving the paths they name, and showing paths as typed."""

from __future__ import annotations

import os
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


def discover_spec_files(paths: Iterable[Path | str]) -> list[Path]:
    """Every spec file under the given files/directories, sorted, without duplicates (missing paths are skipped)."""
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).resolve()
        if path.is_dir():
            for candidate in sorted(path.rglob("*")):
                if candidate.is_file() and is_spec_file(candidate):
                    found[candidate] = None
        elif path.is_file():
            found[path] = None
    return list(found)
