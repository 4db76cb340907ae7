"""The project's own error types: every mistake a user can make ends up as one of these."""

from __future__ import annotations

from dataclasses import dataclass


class GradcamAuditError(Exception):
    """Base class of every error gradcam_audit raises for a user's mistake.

    Code that catches this shows ``str(error)`` to the user, never a traceback.
    """


@dataclass(frozen=True)
class Problem:
    """One mistake in a spec, located as precisely as the source allows."""

    file: str
    field: str
    message: str
    line: int | None = None
    column: int | None = None
    fix: str | None = None
    case_index: int | None = None

    def format(self) -> str:
        location = self.file
        if self.line is not None:
            location += f":{self.line}"
            if self.column is not None:
                location += f":{self.column}"
        text = f"{location}: {self.field}: {self.message}" if self.field else f"{location}: {self.message}"
        if self.fix:
            text += f"\n    fix: {self.fix}"
        return text


class SpecError(GradcamAuditError, ValueError):
    """A spec file (or a part of it) is invalid; carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in spec"
        super().__init__(header + ":\n" + "\n".join(problem.format() for problem in self.problems))


class ModelError(GradcamAuditError, ValueError):
    """A model cannot be loaded or cannot be explained as asked (bad layer, bad target, bad output)."""


class ImageError(GradcamAuditError, ValueError):
    """An image file is missing, unreadable or truncated."""


class ResultsError(GradcamAuditError, ValueError):
    """A JSON results file cannot be read back (wrong schema, missing keys)."""


class UnsafePathError(GradcamAuditError, ValueError):
    """A path named inside a file (a results JSON's pictures) points outside the folder it may be read from."""


class InputTooLargeError(GradcamAuditError, ValueError):
    """An input (a spec, a labels file, an image) is over a stated size limit; the message says how to raise it."""


class LimitSettingError(GradcamAuditError, ValueError):
    """An environment variable that sets a size limit (GRADCAM_MAX_*) does not hold a positive whole number."""
