"""After an xdist worker crash, every worker computes the crashed spec one case at a time, and no worker computes again
an item that crashed for good: the restarted workers and the ones still running.

A restarted worker learns the isolated specs when it starts (workerinput). A worker that was already running learns
them from a small file the controller rewrites at each crash and the worker reads before each item: pytest-xdist has no
channel from the controller to a running worker. Without it a surviving worker that takes over the crashed spec's
remaining cases batches the crashing case with them again, and an innocent case is blamed for the crash; and the worker
judging the spec's gate computes the crashing case again to count it, and dies too.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

NOTICE_KEY = "gradcam_isolation_notice"


@dataclass(frozen=True)
class Isolation:
    """What the controller has told the workers so far."""

    specs: tuple[str, ...] = ()  # spec files computed one case at a time (paths as the node ids write them)
    crashed: dict[str, str] = field(default_factory=dict)  # node id → how its process died, for items that crashed for good


class IsolationNotice:
    """The controller's isolated spec files and crashed items, in a file every worker reads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None

    @staticmethod
    def create() -> IsolationNotice:
        notice = IsolationNotice(Path(tempfile.mkdtemp(prefix="gradcam-isolation-")) / "isolated-specs.json")
        notice.publish((), {})
        return notice

    def publish(self, specs: Iterable[str], crashed: Mapping[str, str]) -> None:
        """Rewrite the notice atomically: a worker reads the old one or the new one, never half of one."""
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"specs": sorted(specs), "crashed": dict(crashed)}), encoding="utf-8")
        os.replace(temporary, self.path)

    def changed(self) -> Isolation | None:
        """The notice when the file changed since the last call (else None); None too when it cannot be read."""
        try:
            status = self.path.stat()
            stamp = (status.st_mtime_ns, status.st_size)
            if stamp == self._seen:
                return None
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        self._seen = stamp
        if not isinstance(data, dict):
            return None
        specs, crashed = data.get("specs", []), data.get("crashed", {})
        return Isolation(tuple(str(spec) for spec in specs) if isinstance(specs, list) else (),
                         {str(nodeid): str(detail) for nodeid, detail in crashed.items()} if isinstance(crashed, dict) else {})

    def remove(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)
