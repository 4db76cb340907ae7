"""Did-you-mean suggestions for misspelt keys, class names, layers and choices."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' or '' when nothing is close."""
    match = closest(word, choices)
    return f" (did you mean {match!r}?)" if match else ""


def listing(choices: Iterable[str], limit: int = 12) -> str:
    items = list(choices)
    shown = ", ".join(items[:limit])
    return shown + (f", … ({len(items) - limit} more)" if len(items) > limit else "")
