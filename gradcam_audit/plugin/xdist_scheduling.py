"""pytest-xdist scheduling that keeps each spec file on one worker, so its cases are batched there.

Under xdist's default `load` scheduling, consecutive cases land on different workers and a worker that
batched ahead would compute cases another worker runs. Scheduling audit items by spec file (like
`--dist loadfile`) keeps batches whole; other tests keep being scheduled one by one.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling

from gradcam_audit.core.spec.paths import SPEC_SUFFIXES


def is_audit_nodeid(nodeid: str) -> bool:
    return nodeid.split("::", 1)[0].lower().endswith(SPEC_SUFFIXES)


class SpecFileScheduling(LoadScopeScheduling):  # type: ignore[misc]
    """Audit items are scoped by spec file; every other test is its own scope (plain load balancing)."""

    def _split_scope(self, nodeid: str) -> str:
        return nodeid.split("::", 1)[0] if is_audit_nodeid(nodeid) else nodeid


def make_scheduler(config: Any, log: Any) -> SpecFileScheduling:
    return SpecFileScheduling(config, log)
