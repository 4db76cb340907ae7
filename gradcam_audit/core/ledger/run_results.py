"""The ledger of one run: every planned case and gate, the run's verdict (decided here and nowhere else) and the
document `results.json` holds (schema 2)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gradcam_audit.core.ledger.entries import BLOCKING_STATUSES, NOT_RUN_CAUSES, SELECTION_CAUSES, STATUSES, CaseEntry, GateEntry
from gradcam_audit.core.records.codec import JsonForm, describe, from_data
from gradcam_audit.core.records.comparison import BaselineSummary, BaselineTally
from gradcam_audit.errors import ResultsError

SCHEMA_VERSION = 2

RUN_VERDICTS = ("passed", "failed", "incomplete")


@dataclass(frozen=True)
class RunResults:
    """The ledger of one run (or of merged shards): every planned case and gate, and the run's verdict."""

    cases: tuple[CaseEntry, ...]
    gates: tuple[GateEntry, ...] = ()
    started: str = ""
    duration_s: float = 0.0
    command: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # things the reader must know (a merge warning, a worker crash, a run interrupted)
    colormap: str = ""  # the colormap the case pictures were drawn with, for the report's legend
    baseline: BaselineSummary | None = None  # the run was compared with a baseline (core/baseline/)

    # -- the verdict, decided once ------------------------------------------------------------------
    # Every entry point (a pytest run, a `report` merge, a `--gradcam-baseline` run, `gradcam-audit compare`) reads
    # `verdict`, so they cannot disagree; their exit statuses follow from it.

    @property
    def entries(self) -> tuple[CaseEntry | GateEntry, ...]:
        return (*self.cases, *self.gates)

    @property
    def unfinished(self) -> tuple[CaseEntry | GateEntry, ...]:
        """Entries that should have run but did not (deselection is the user's choice and does not count)."""
        return tuple(entry for entry in self.entries if entry.status == "not_run" and entry.cause not in SELECTION_CAUSES)

    @property
    def baseline_tally(self) -> BaselineTally | None:
        """How many cases were compared with the baseline, regressed, new, removed (None: no baseline given)."""
        if self.baseline is None:
            return None
        return BaselineTally.count((case.comparison.status for case in self.cases if case.comparison is not None),
                                   len(self.baseline.removed))

    @property
    def uncompared_reason(self) -> str:
        """Why the release comparison did not happen ("" when it did, or when no baseline was given): a baseline
        that matched no case is an unfinished comparison, never a pass."""
        tally = self.baseline_tally
        if tally is None or tally.compared:
            return ""
        methods = sorted({case.method for case in self.cases if case.method != "-"})
        baseline_methods = sorted({case.method for case in self.baseline.removed}) if self.baseline is not None else []
        sources = ", ".join(self.baseline.sources) if self.baseline is not None else "the baseline"
        hint = ""
        if methods and baseline_methods and set(methods).isdisjoint(baseline_methods):
            hint = f" (the baseline ran method(s) {', '.join(baseline_methods)}, this run {', '.join(methods)})"
        return (f"the comparison with the baseline ({sources}) compared no case: none of this run's cases matched a baseline "
                f"case by spec path, case id and method{hint} ({tally.new} new, {tally.removed} removed); fix: run the same "
                "spec files, case ids and methods as the baseline, or give the baseline of this suite")

    @property
    def complete(self) -> bool:
        return not self.unfinished and not self.uncompared_reason

    @property
    def incomplete_reasons(self) -> tuple[str, ...]:
        causes = Counter(entry.cause for entry in self.unfinished)
        reasons = tuple(f"{count} not run: {NOT_RUN_CAUSES.get(cause, cause)}" for cause, count in causes.most_common())
        return (*reasons, self.uncompared_reason) if self.uncompared_reason else reasons

    @property
    def blocking(self) -> tuple[CaseEntry | GateEntry, ...]:
        return tuple(entry for entry in self.entries if entry.status in BLOCKING_STATUSES)

    @property
    def verdict(self) -> str:
        """The run's status, decided here only: "incomplete" when anything planned did not finish or the baseline
        comparison compared nothing, else "failed" when anything blocks (a regression fails its case), else "passed"."""
        if not self.complete:
            return "incomplete"
        return "failed" if self.blocking else "passed"

    def counts(self) -> dict[str, int]:
        counter = Counter(case.status for case in self.cases)
        return {status: counter[status] for status in STATUSES if counter.get(status)}

    def not_selected(self) -> int:
        """Cases the user's selection left out (-k, -m, node ids, another shard): not run, by choice."""
        return sum(1 for case in self.cases if case.status == "not_run" and case.cause in SELECTION_CAUSES)

    def gate_counts(self) -> dict[str, int]:
        counter = Counter(gate.status for gate in self.gates)
        return {status: counter[status] for status in STATUSES if counter.get(status)}

    # -- the file format ----------------------------------------------------------------------------
    # The verdict and the counts are written for the file's readers (a CI step reads "verdict"); read back, they are
    # decided again from the entries, never trusted from the file.
    JSON_FORM: ClassVar[JsonForm] = JsonForm(
        keys=("schema", "verdict", "complete", "incomplete_reasons", "counts", "gate_counts", "started", "duration_s", "command",
              "versions", "notes", "colormap", "cases", "gates", "baseline", "baseline_counts"),
        constants={"schema": SCHEMA_VERSION},
        derived={"verdict": lambda run: run.verdict, "complete": lambda run: run.complete,
                 "incomplete_reasons": lambda run: run.incomplete_reasons, "counts": lambda run: run.counts(),
                 "gate_counts": lambda run: run.gate_counts(), "baseline_counts": lambda run: run.baseline_tally},
        omitted={"baseline": lambda run: run.baseline is None, "baseline_counts": lambda run: run.baseline is None},
    )


def results_from_data(data: Any, source: str = "results") -> RunResults:
    """The run a results document holds (parsed JSON), every field checked.

    Raises:
        ResultsError: not a results document, another schema, or a field of the wrong type (naming its path).
    """
    if not isinstance(data, dict) or "cases" not in data:
        found = "an object without 'cases'" if isinstance(data, dict) else f"{describe(data)} at the top"
        raise ResultsError(f"{source}: not a gradcam_audit results file (no 'cases' key; found {found}); give the results.json a run wrote")
    if data.get("schema") != SCHEMA_VERSION:
        raise ResultsError(f"{source}: results schema {data.get('schema')!r} is not supported (this version reads schema "
                           f"{SCHEMA_VERSION}); re-run the audit with this version to write it")
    return from_data(RunResults, data, source)
