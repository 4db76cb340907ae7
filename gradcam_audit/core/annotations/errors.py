"""The error an annotation import raises: every problem found, each naming its file and entry."""

from __future__ import annotations

from gradcam_audit.errors import GradcamAuditError, Problem


class AnnotationError(GradcamAuditError, ValueError):
    """An annotation export cannot be turned into a spec; carries every problem found, not only the first.

    Each problem's ``field`` names the entry (``annotations[3] (id 17)``, ``object[1]``, ``line 4``).
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the annotations"
        super().__init__(header + ":\n" + "\n".join(problem.format() for problem in self.problems))


class ProblemList:
    """Collects problems while a reader walks a file, so one bad entry never hides the others."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, file: str, entry: str, message: str, fix: str | None = None) -> None:
        self.problems.append(Problem(file=file, field=entry, message=message, fix=fix))

    def raise_if_any(self) -> None:
        if self.problems:
            raise AnnotationError(self.problems)
