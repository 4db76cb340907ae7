"""After an xdist worker crash, every worker computes the crashed spec one case at a time: the restarted ones and the
ones still running.

A restarted worker learns the isolated specs when it starts (workerinput). A worker that was already running learns
them from a small file the controller rewrites at each crash and the worker reads before each case: pytest-xdist has no
channel from the controller to a running worker, and without it a surviving worker that takes over the crashed spec's
remaining cases batches the crashing case with them again, and an innocent case is blamed for the crash.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

NOTICE_KEY = "gradcam_isolation_notice"


class IsolationNotice:
    """The controller's list of isolated spec files (paths as the node ids write them), in a file every worker reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None

    @staticmethod
    def create() -> IsolationNotice:
        notice = IsolationNotice(Path(tempfile.mkdtemp(prefix="gradcam-isolation-")) / "isolated-specs.json")
        notice.publish(())
        return notice

    def publish(self, specs: Iterable[str]) -> None:
        """Rewrite the list atomically: a worker reads the old list or the new one, never half of one."""
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(sorted(specs)), encoding="utf-8")
        os.replace(temporary, self.path)

    def changed_specs(self) -> list[str] | None:
        """The list when the file changed since the last call (else None); None too when it cannot be read."""
        try:
            status = self.path.stat()
            stamp = (status.st_mtime_ns, status.st_size)
            if stamp == self._seen:
                return None
            specs = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        self._seen = stamp
        return [str(spec) for spec in specs] if isinstance(specs, list) else None

    def remove(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)
