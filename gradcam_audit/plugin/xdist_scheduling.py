"""pytest-xdist scheduling that keeps each spec file on one worker, and retries a crashed case once.

Under xdist's default `load` scheduling, consecutive cases land on different workers and a worker that
batched ahead would compute cases another worker runs. Scheduling audit items by spec file (like
`--dist loadfile`) keeps batches whole; other tests keep being scheduled one by one.

When a worker dies, `LoadScopeScheduling` re-queues the item it was running, so a case that kills its worker
every time is retried until xdist gives up. Here a crashed item is retried once, and its spec file is then
computed one case at a time on every worker, restarted or still running (a batch-mate may have been the cause:
plugin/crash_isolation.py); a second crash of the same item is reported, every worker records it as ended (the
spec's gate counts it instead of computing it again, which crashed the gate's worker too), and the run goes on.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling

from gradcam_audit.core.spec.paths import SPEC_SUFFIXES
from gradcam_audit.plugin.state import RunState

MAX_CRASHES_PER_ITEM = 2  # the first crash is retried; the second is the item's result


def is_audit_nodeid(nodeid: str) -> bool:
    return nodeid.split("::", 1)[0].lower().endswith(SPEC_SUFFIXES)


class SpecFileScheduling(LoadScopeScheduling):  # type: ignore[misc]
    """Audit items are scoped by spec file; every other test is its own scope (plain load balancing)."""

    def __init__(self, config: Any, log: Any, state: RunState) -> None:
        super().__init__(config, log)
        self.state = state

    def _split_scope(self, nodeid: str) -> str:
        return nodeid.split("::", 1)[0] if is_audit_nodeid(nodeid) else nodeid

    def remove_node(self, node: Any) -> str | None:
        workload = self.assigned_work.pop(node)
        if not self._pending_of(workload):
            return None
        crashed_unit, crashitem = next((unit, nodeid) for unit in workload.values() for nodeid, done in unit.items() if not done)
        crashes = self.state.crash_counts.get(crashitem, 0) + 1
        self.state.crash_counts[crashitem] = crashes
        worker = getattr(getattr(node, "gateway", None), "id", "?")
        error = self.state.last_worker_error.get(worker, "")
        self.state.crash_details[crashitem] = f"worker {worker}" + (f": {error}" if error else "") + f", crash {crashes} of {MAX_CRASHES_PER_ITEM}"
        report: str | None = None
        if crashes >= MAX_CRASHES_PER_ITEM:
            crashed_unit[crashitem] = True  # not re-queued: reported as crashed, and the rest of its scope goes on
            report = crashitem
        if is_audit_nodeid(crashitem):
            self.state.isolated_specs.add(crashitem.split("::", 1)[0])
            if self.state.isolation_notice is not None:  # before any surviving worker is given the spec's other items
                # The items that ended crashed: no worker computes them again (a gate would, to count them).
                ended = {nodeid: self.state.crash_details[nodeid] for nodeid, count in self.state.crash_counts.items()
                         if count >= MAX_CRASHES_PER_ITEM and is_audit_nodeid(nodeid)}
                self.state.isolation_notice.publish(self.state.isolated_specs, ended)
        pending = {scope: unit for scope, unit in workload.items() if not all(unit.values())}
        self.workqueue.update(pending)
        for other in self.assigned_work:
            self._reschedule(other)
        return report


def make_scheduler(config: Any, log: Any, state: RunState) -> SpecFileScheduling:
    return SpecFileScheduling(config, log, state)
