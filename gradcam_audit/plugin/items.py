"""Collection: a spec file becomes a pytest.File whose items are its planned cases (one per method) and its gate.

Items decide nothing: each asks the core's Audit for its entry and maps the entry's final status to a pytest
outcome (passed → pass, xfailed → xfail, skipped / not run → skip, anything else → a readable failure).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from gradcam_audit.core.plan import CaseKey, PlannedCase, PlannedGate, SpecPlan
from gradcam_audit.core.ledger.entries import CaseEntry, GateEntry
from gradcam_audit.plugin.state import run_state
from gradcam_audit.rendering.text.text_table import failure_text, gate_failure_text, junit_properties

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr


class EntryNotPassed(Exception):
    """An entry ended failed, error or unexpectedly passed; carries it for a readable failure, not a traceback."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _outcome(status: str, reason: str, failure: str) -> None:
    """Map a final status to pytest's outcome. The status was decided by the core; this only translates it."""
    __tracebackhide__ = True
    if status == "passed":
        return
    if status == "xfailed":
        pytest.xfail(reason or "expected failure")
    if status in ("skipped", "not_run"):
        pytest.skip(reason or status)
    raise EntryNotPassed(failure)


class SpecFile(pytest.File):
    """One YAML spec: yields its planned case items and its gate item."""

    spec_plan: SpecPlan

    def collect(self) -> Iterator[pytest.Item]:
        state = run_state(self.config)
        spec_plan = state.plan.for_path(self.path)
        if spec_plan is None:
            return
        for planned in spec_plan.cases:
            item = CaseItem.from_parent(self, name=planned.name, planned=planned)
            item.add_marker("gradcam")
            for tag in planned.entry.tags:
                state.register_marker(self.config, tag)
                item.add_marker(tag)
            yield item
        if spec_plan.gate is not None:
            yield GateItem.from_parent(self, name=spec_plan.gate.name, planned=spec_plan.gate)


class _EntryItem(pytest.Item):
    """A case or gate item: its failure is the entry's readable text, never a traceback of this module."""

    failure = ""  # the entry's failure text, set by runtest before it maps the status to an outcome

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, EntryNotPassed):
            return excinfo.value.text
        if isinstance(excinfo.value, pytest.xfail.Exception):
            # pytest builds a failure representation for an expected failure too, and shows only its reason. Built
            # from the traceback, it cost about 0.2 s each: 11 s of the shipped example's 35 s (50 expected failures).
            return self.failure
        return super().repr_failure(excinfo)  # a bug in gradcam_audit itself: show the traceback


class CaseItem(_EntryItem):
    """One planned case with one method."""

    def __init__(self, *, planned: PlannedCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.planned = planned
        self.entry: CaseEntry | None = None

    @property
    def key(self) -> CaseKey:
        return self.planned.key

    def runtest(self) -> None:
        state = run_state(self.config)
        # A worker crashed on a spec since this worker started: its cases run alone here too (plugin/crash_isolation.py).
        state.refresh_isolation(getattr(self.config, "workerinput", None))
        run = state.audit.run_case(self.key)
        entry = replace(run.entry, images=state.render_images(run) or run.entry.images, nodeid=self.nodeid)
        state.audit.record_case(entry)
        self.entry = entry
        for name, value in junit_properties(entry):
            self.user_properties.append((name, value))
        self.failure = failure_text(entry, state.overlay_display_path(entry))
        _outcome(entry.status, entry.reason, self.failure)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        line = self.planned.entry.line
        return self.path, (line - 1) if line else None, _headline(self)


class GateItem(_EntryItem):
    """The spec's suite-level gate, judged by the core from its cases' final statuses."""

    def __init__(self, *, planned: PlannedGate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.planned = planned
        self.entry: GateEntry | None = None

    @property
    def key(self) -> str:
        return self.planned.entry.key

    def runtest(self) -> None:
        state = run_state(self.config)
        # Cases that crashed for good on another worker are counted as errors here, not computed again.
        state.refresh_isolation(getattr(self.config, "workerinput", None))
        entry = replace(state.audit.run_gate(self.key), nodeid=self.nodeid)
        state.audit.record_gate(entry)
        self.entry = entry
        self.failure = gate_failure_text(entry)
        _outcome(entry.status, entry.reason, self.failure)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        line = self.planned.entry.line
        return self.path, (line - 1) if line else None, _headline(self)


def _headline(item: pytest.Item) -> str:
    # Not a suffix of the node id on purpose: pytest would read dots in it as Python module separators.
    return f"{item.name} ({item.path.name})"
