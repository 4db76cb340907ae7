"""Python warnings that TensorFlow, Keras, NumPy or a user's module raise while a run loads and runs models: kept
once each, for the run's notes, instead of printed again on every run (and in pytest's warnings summary).

Warnings from gradcam_audit's own code are never kept: they are shown as before.
"""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_OWN_PACKAGE = "gradcam_audit"
_OWN_FOLDER = Path(__file__).resolve().parents[2]
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class KeptWarning:
    """One distinct warning: its category's name, its message's first line and the module it was raised from."""

    category: str
    message: str
    module: str

    @property
    def package(self) -> str:
        """The top-level package the warning came from ("tensorflow", "keras", a user's module)."""
        return self.module.split(".")[0] or "an unknown module"

    def note(self) -> str:
        """The run note: ``warning from keras (UserWarning in keras.src.models.functional): The structure of …``."""
        return f"warning from {self.package} ({self.category} in {self.module}): {self.message}"


class WarningLog:
    """The distinct warnings kept so far, in the order first seen; safe to add to from several threads.

    ``take_new`` hands each one out once, for processes that pass them on (an xdist worker to its controller).
    """

    def __init__(self) -> None:
        self._kept: dict[KeptWarning, None] = {}
        self._handed_out = 0
        self._lock = threading.Lock()

    def add(self, kept: KeptWarning) -> None:
        with self._lock:
            self._kept.setdefault(kept, None)

    def extend(self, kept: Iterable[KeptWarning]) -> None:
        for one in kept:
            self.add(one)

    def kept(self) -> tuple[KeptWarning, ...]:
        with self._lock:
            return tuple(self._kept)

    def take_new(self) -> tuple[KeptWarning, ...]:
        """The warnings kept since the last call."""
        with self._lock:
            new = tuple(self._kept)[self._handed_out :]
            self._handed_out = len(self._kept)
            return new


def kept_summary(kept: Iterable[KeptWarning], where: str) -> str:
    """"2 warnings from tensorflow, 1 from keras kept in WHERE" ("" when there are none)."""
    by_package: dict[str, int] = {}
    for one in kept:
        by_package[one.package] = by_package.get(one.package, 0) + 1
    if not by_package:
        return ""
    parts = [f"{count} from {package}" for package, count in by_package.items()]
    first_count = next(iter(by_package.values()))
    parts[0] = f"{first_count} warning{'s' if first_count != 1 else ''} from {next(iter(by_package))}"
    return f"{', '.join(parts)} kept in {where}"


# -- the routing --------------------------------------------------------------------------------------------
# warnings.catch_warnings swaps process-wide state and is not thread-safe before Python 3.14: a run computes batches in
# a background thread while pytest enters and leaves its own catch_warnings around every test, and the two would undo
# each other's state (losing warnings of unrelated tests). So the capture is a router installed once in the place every
# shown warning passes through after the filters decided to show it (warnings._showwarnmsg, which the C and Python
# `warn` both call and catch_warnings never replaces): a warning raised in a thread that is inside `keep_warnings` is
# kept; any other is shown exactly as before. The user's filters still decide first ("error" raises, "ignore" drops).

_active = threading.local()
_install_lock = threading.Lock()
_module_names: dict[str, str] = {}


def _module_of(filename: str) -> str:
    """The module a warning's file is (by the loaded modules' files), else the file's name without suffix."""
    if filename not in _module_names:
        loaded = [(module_name, getattr(module, "__file__", None)) for module_name, module in list(sys.modules.items())]
        name = next((module_name for module_name, module_file in loaded if module_file == filename), None)
        if name is None and filename and not filename.startswith("<"):  # the same file reached by another path
            resolved = Path(filename).resolve()
            name = next((module_name for module_name, module_file in loaded
                         if module_file and Path(module_file).resolve() == resolved), None)
        _module_names[filename] = name or (Path(filename).stem if filename else "")
    return _module_names[filename]


def _is_own(filename: str, module: str) -> bool:
    if module == _OWN_PACKAGE or module.startswith(_OWN_PACKAGE + "."):
        return True
    try:
        return Path(filename).resolve().is_relative_to(_OWN_FOLDER)
    except (OSError, ValueError):
        return False


def _kept_from(message: Any) -> KeptWarning | None:
    """The warning to keep for a shown ``warnings.WarningMessage``, or None when it is gradcam_audit's own."""
    filename = str(getattr(message, "filename", "") or "")
    module = _module_of(filename)
    if _is_own(filename, module):
        return None
    text = str(message.message).strip()
    first_line = text.splitlines()[0] if text else ""
    if len(first_line) > _MESSAGE_LIMIT:
        first_line = first_line[: _MESSAGE_LIMIT - 1] + "…"
    return KeptWarning(getattr(message.category, "__name__", str(message.category)), first_line, module)


def _router(original: Callable[[Any], None]) -> Callable[[Any], None]:
    def route(message: Any) -> None:
        logs: list[WarningLog] = getattr(_active, "logs", [])
        kept = _kept_from(message) if logs else None
        if kept is None:
            original(message)
        else:
            logs[-1].add(kept)

    route.gradcam_router = True  # type: ignore[attr-defined]
    return route


def _install_router() -> bool:
    """Put the router in place once per process; False where this Python has no such hook (nothing is kept then)."""
    with _install_lock:
        current = getattr(warnings, "_showwarnmsg", None)
        if current is None:
            return False
        if not getattr(current, "gradcam_router", False):
            warnings._showwarnmsg = _router(current)  # type: ignore[attr-defined]
        return True


@contextmanager
def keep_warnings(log: WarningLog) -> Iterator[WarningLog]:
    """Keep the third-party warnings this thread raises inside the block in ``log`` instead of showing them."""
    if not _install_router():
        yield log
        return
    logs: list[WarningLog] = getattr(_active, "logs", None) or []
    _active.logs = [*logs, log]
    try:
        yield log
    finally:
        _active.logs = logs
