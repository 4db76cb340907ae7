"""A run's output folder: the one writer of results and reports (temp file, fsync, rename), the lock that keeps two
runs out of one folder, and the step that moves the previous run's verdict aside before anything is computed."""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from gradcam_audit.errors import GradcamAuditError

LOCK_NAME = ".gradcam-audit.lock"
# What a run that started moves its predecessor's files to: no longer named *.json / *.html, so nothing (a CI step,
# a glob of shard files, a browser) takes them for the current verdict, yet still there to look at after a crash.
SUPERSEDED_SUFFIX = ".superseded"
_PARTIAL_SUFFIX = ".partial"
_FULL_DISK = (errno.ENOSPC, errno.EDQUOT) if hasattr(errno, "EDQUOT") else (errno.ENOSPC,)


class OutputWriteError(GradcamAuditError):
    """A results or report file could not be written (a full disk, a read-only folder); names the folder."""


class FolderBusyError(GradcamAuditError, RuntimeError):
    """Another run is writing the same output folder."""


def _write_failure(path: Path, error: OSError) -> OutputWriteError:
    if error.errno in _FULL_DISK:
        cause = "the disk is full (no space left on device)"
        fix = "free space there, or write the results somewhere else"
    else:
        cause = error.strerror or str(error)
        fix = "check the folder's permissions, or write the results somewhere else"
    return OutputWriteError(f"cannot write {path.name} in {path.parent}: {cause}; {fix}")


def write_text_atomically(path: Path, write: Callable[[TextIO], object]) -> Path:
    """Write ``path`` through ``write(handle)`` so that a reader sees the old file or the whole new one, never a part.

    The text goes to a temp file in the same folder (so the rename stays on one file system), is flushed to the disk
    (fsync), and only then replaces ``path``; on any failure the temp file is removed and ``path`` is untouched.

    Raises:
        OutputWriteError: the folder or the file could not be written; the message names the folder and the cause.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{_PARTIAL_SUFFIX}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # os.open with 0o666 (not mkstemp's 0o600): the result gets the same permissions a plain open() would give.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise _write_failure(path, error) from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with suppress(OSError):
            temporary.unlink()
        if isinstance(error, OSError):
            raise _write_failure(path, error) from None
        raise
    _sync_folder(path.parent)
    return path


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (the folder's entry), where the platform allows opening a folder."""
    with suppress(OSError, AttributeError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


# -- the lock --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockHolder:
    """Who holds a folder's lock, as written in the lock file."""

    pid: int | None
    host: str
    command: str
    started: float | None

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started)) if self.started else "an unknown time"
        who = f"process {self.pid}" if self.pid is not None else "another process"
        return f"{who} on {self.host or 'an unknown host'}, started {when}: {self.command or 'unknown command'}"


class FolderLock:
    """An output folder held by this process; ``release()`` (idempotent) frees it. The operating system frees it too
    when the process dies, however it dies (a kill, a crash), so a dead holder's lock file is never mistaken for a run."""

    def __init__(self, folder: Path, descriptor: int) -> None:
        self.folder = folder
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        if self._descriptor is None:
            return
        descriptor, self._descriptor = self._descriptor, None
        with suppress(OSError):
            if _same_file(descriptor, self.folder / LOCK_NAME):
                (self.folder / LOCK_NAME).unlink()
        os.close(descriptor)


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        opened, named = os.fstat(descriptor), os.stat(path)
    except OSError:
        return False
    return (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino)


def _read_holder(descriptor: int) -> LockHolder:
    try:
        os.lseek(descriptor, 0, os.SEEK_SET)
        document = json.loads(os.read(descriptor, 65_536).decode("utf-8", "replace") or "{}")
    except (OSError, ValueError):
        document = {}
    if not isinstance(document, dict):
        document = {}
    pid, started = document.get("pid"), document.get("started")
    return LockHolder(pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
                      host=str(document.get("host", "")), command=str(document.get("command", "")),
                      started=float(started) if isinstance(started, (int, float)) and not isinstance(started, bool) else None)


def lock_folder(folder: Path, command: str) -> FolderLock:
    """Hold ``folder`` for this run, or refuse: the lock file ``.gradcam-audit.lock`` names the holder.

    An advisory ``flock`` on the lock file, not the file's existence, is the lock: a file left by a killed run is
    recognised as stale (nobody holds it) and taken over. The file's text (pid, host, command, start) only serves the
    message of the run that is refused.

    Raises:
        FolderBusyError: another live process holds the folder; the message names it.
        OutputWriteError: the folder cannot be created or the lock file cannot be opened.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no flock; runs there are not kept apart
        return FolderLock(folder, os.open(os.devnull, os.O_RDONLY))
    path = folder / LOCK_NAME
    for _ in range(10):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise _write_failure(path, error) from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _read_holder(descriptor)
            os.close(descriptor)
            if error.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                raise _write_failure(path, error) from None
            raise FolderBusyError(
                f"{folder} is in use by another gradcam audit ({holder.describe()}); two runs writing one folder would "
                "overwrite each other's results and pictures. Wait for it to finish, or give this run its own folder "
                "(--gradcam-report / --gradcam-json)") from None
        if not _same_file(descriptor, path):
            os.close(descriptor)  # its holder released (and removed) the file between our open and our lock: again
            continue
        document = {"pid": os.getpid(), "host": socket.gethostname(), "command": command, "started": time.time()}
        with suppress(OSError):  # the text is for messages only; on a full disk the lock still holds without it
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, (json.dumps(document) + "\n").encode("utf-8"), 0)
        return FolderLock(folder, descriptor)
    raise FolderBusyError(f"{folder}: could not take its lock {LOCK_NAME}: other runs keep starting and stopping there")


# -- the previous run's files ----------------------------------------------------------------------------------


def supersede_previous(outputs: Iterable[Path], leftovers: Iterable[str] = ()) -> list[Path]:
    """Move each existing output file aside (``results.json`` → ``results.json.superseded``), before the run computes.

    From here until this run writes its own, no file there says the previous run's verdict as if it were current: a
    crash, a kill or a full disk leaves no stale PASSED behind. Call it while holding the folder's lock. Also removes
    what killed runs left in the folders (half-written temp files, and the folders named in ``leftovers``, relative
    to each output's folder; glob patterns). Returns the files moved aside.

    Raises:
        OutputWriteError: a previous file exists and cannot be moved aside.
    """
    moved = []
    folders: dict[Path, None] = {}
    for path in outputs:
        folders[path.parent] = None
        if not path.exists() or path.is_dir():
            continue
        aside = path.with_name(path.name + SUPERSEDED_SUFFIX)
        try:
            os.replace(path, aside)
        except OSError as error:
            raise _write_failure(path, error) from None
        moved.append(aside)
    for folder in folders:
        if not folder.is_dir():
            continue
        for partial in folder.glob(f".*{_PARTIAL_SUFFIX}"):
            with suppress(OSError):
                partial.unlink()
        for pattern in leftovers:
            for leftover in folder.glob(pattern):
                shutil.rmtree(leftover, ignore_errors=True)
    return moved


def drop_superseded(outputs: Iterable[Path]) -> None:
    """After this run wrote its own files: the previous run's copies moved aside are no longer needed."""
    for path in outputs:
        with suppress(OSError):
            path.with_name(path.name + SUPERSEDED_SUFFIX).unlink()
