"""The ledger: every planned case and gate of an audit with exactly one final status, and the run's verdict.

This is the document `results.json` holds (schema 2). The run's verdict (passed / failed / incomplete) is
decided here and nowhere else; the plugin, the CLI and the renderers read it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from gradcam_audit.core.records.comparison import BaselineComparison, BaselineSummary, BaselineTally
from gradcam_audit.core.evaluate.causal import GateEvidence
from gradcam_audit.core.evaluate.gates import GateCase, GateResult, evaluate_gate
from gradcam_audit.core.records.results import CaseResult, dumps_strict, read_json_file
from gradcam_audit.core.files.run_folder import write_text_atomically
from gradcam_audit.core.spec.model import Gate
from gradcam_audit.errors import ResultsError

SCHEMA_VERSION = 2

# Every final status an entry can have. "not_run" always comes with a cause and a reason.
STATUSES = ("passed", "failed", "error", "xfailed", "xpassed", "skipped", "not_run")
# Statuses that fail the release.
BLOCKING_STATUSES = ("failed", "error", "xpassed")

# Why an entry did not run. Only the user's own selection ("deselected": -k, -m, node ids; "other_shard") leaves
# the run complete; every other cause makes it incomplete.
NOT_RUN_CAUSES = {
    "deselected": "deselected in this run (-k, -m or a node id)",
    "other_shard": "runs in another shard (--gradcam-shard)",
    "missing_shard": "it runs in a shard whose results were not merged (is a shard's results file missing?)",
    "interrupted": "the run was interrupted (Ctrl-C) before this ran",
    "stopped_early": "the run stopped early (-x / --maxfail) before this ran",
    "cases_not_run": "some of its cases did not run in this process",
    "no_result": "it was planned but no result arrived (the run ended before it ran)",
}

SELECTION_CAUSES = ("deselected", "other_shard")

RUN_VERDICTS = ("passed", "failed", "incomplete")


@dataclass(frozen=True)
class CaseEntry:
    """A planned case (one case with one method) and how it ended.

    ``result`` is the computation (None when the case never ran or could not be planned); ``images``,
    ``nodeid`` and ``duration_s`` are facts about this run, kept beside the result.
    """

    spec: str
    id: str
    method: str
    status: str
    reason: str = ""
    cause: str = ""  # for not_run: a key of NOT_RUN_CAUSES
    xfail: str | None = None
    tags: tuple[str, ...] = ()
    line: int | None = None
    result: CaseResult | None = None
    images: dict[str, str] = field(default_factory=dict)  # kind → path relative to the results file's folder
    nodeid: str | None = None
    duration_s: float = 0.0
    # The comparison with the baseline of a case that has no result (it errored before computing, or did not run):
    # a baseline pass that did not finish now is a regression (core/baseline/baseline.py); computed cases carry theirs in result.
    baseline: BaselineComparison | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.spec, self.id, self.method)

    @property
    def comparison(self) -> BaselineComparison | None:
        """The case's comparison with its baseline case, wherever it was recorded (None: not compared)."""
        if self.result is not None and self.result.baseline is not None:
            return self.result.baseline
        return self.baseline

    # Shortcuts for renderers that only need the computation's parts.
    @property
    def regions(self) -> tuple[Any, ...]:
        return self.result.regions if self.result is not None else ()

    @property
    def target(self) -> Any:
        return self.result.target if self.result is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "id": self.id,
            "method": self.method,
            "status": self.status,
            "reason": self.reason,
            "cause": self.cause,
            "xfail": self.xfail,
            "tags": list(self.tags),
            "line": self.line,
            "result": self.result.to_dict() if self.result is not None else None,
            "images": dict(self.images),
            "nodeid": self.nodeid,
            "duration_s": self.duration_s,
            **({"baseline": self.baseline.to_dict()} if self.baseline is not None else {}),
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> CaseEntry:
        result = data.get("result")
        return CaseEntry(
            spec=str(data["spec"]),
            id=str(data["id"]),
            method=str(data["method"]),
            status=_status(data.get("status"), f"case {data.get('id')!r}"),
            reason=str(data.get("reason", "")),
            cause=str(data.get("cause", "")),
            xfail=None if data.get("xfail") is None else str(data["xfail"]),
            tags=tuple(str(tag) for tag in data.get("tags", ())),
            line=None if data.get("line") is None else int(data["line"]),
            result=CaseResult.from_dict(result) if result is not None else None,
            images={str(kind): str(path) for kind, path in dict(data.get("images", {})).items()},
            nodeid=None if data.get("nodeid") is None else str(data["nodeid"]),
            duration_s=float(data.get("duration_s", 0.0)),
            baseline=BaselineComparison.from_dict(data.get("baseline")),
        )


@dataclass(frozen=True)
class GateEntry:
    """A spec's planned gate and how it ended; ``thresholds`` let a merge of shards judge it from their cases."""

    spec: str
    status: str
    reason: str = ""
    cause: str = ""
    xfail: str | None = None
    line: int | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)  # min_pass_rate, min_mean_mass, min_mean_lift, per_class
    methods: tuple[str, ...] = ()
    invalid_cases: int = 0  # cases the loader rejected: they count as not passed
    result: GateResult | None = None
    nodeid: str | None = None

    @property
    def key(self) -> str:
        return self.spec

    def gate(self) -> Gate:
        return Gate(
            min_pass_rate=self.thresholds.get("min_pass_rate"),
            min_mean_mass=self.thresholds.get("min_mean_mass"),
            min_mean_lift=self.thresholds.get("min_mean_lift"),
            per_class=bool(self.thresholds.get("per_class", False)),
            transplant=self.thresholds.get("transplant"),
            max_transplant_flip_rate=self.thresholds.get("max_transplant_flip_rate"),
            transplant_pairs=int(self.thresholds.get("transplant_pairs", 64)),
            max_randomization_similarity=self.thresholds.get("max_randomization_similarity"),
            max_outside_dependence_rate=self.thresholds.get("max_outside_dependence_rate"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "status": self.status,
            "reason": self.reason,
            "cause": self.cause,
            "xfail": self.xfail,
            "line": self.line,
            "thresholds": dict(self.thresholds),
            "methods": list(self.methods),
            "invalid_cases": self.invalid_cases,
            "result": self.result.to_dict() if self.result is not None else None,
            "nodeid": self.nodeid,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> GateEntry:
        result = data.get("result")
        return GateEntry(
            spec=str(data["spec"]),
            status=_status(data.get("status"), f"gate of {data.get('spec')!r}"),
            reason=str(data.get("reason", "")),
            cause=str(data.get("cause", "")),
            xfail=None if data.get("xfail") is None else str(data["xfail"]),
            line=None if data.get("line") is None else int(data["line"]),
            thresholds=dict(data.get("thresholds", {})),
            methods=tuple(str(method) for method in data.get("methods", ())),
            invalid_cases=int(data.get("invalid_cases", 0)),
            result=GateResult.from_dict(result) if result is not None else None,
            nodeid=None if data.get("nodeid") is None else str(data["nodeid"]),
        )


def _status(value: Any, what: str) -> str:
    if value not in STATUSES:
        raise ResultsError(f"{what}: status {value!r} is not one of {', '.join(STATUSES)}")
    return str(value)


def final_case_status(verdict: str, xfail: str | None) -> tuple[str, str]:
    """The final status of a computed case, and the extra words for it. Errors are never expected failures."""
    if verdict == "error" or not xfail:
        return verdict, ""
    if verdict == "failed":
        return "xfailed", ""
    return "xpassed", f"expected to fail ({xfail}) but passed: the strict expected failure no longer holds"


def final_gate_status(verdict: str, xfail: str | None) -> tuple[str, str]:
    return final_case_status(verdict, xfail)


def judge_gate(entry: GateEntry, cases: Iterable[CaseEntry], evidence: GateEvidence | None = None) -> GateEntry:
    """The gate decided from its cases' final statuses, or not run when some of them did not run.

    ``evidence``: the causal numbers the runner measured, for a gate with transplant / randomisation thresholds.
    """
    chosen = [case for case in cases if case.spec == entry.spec and (not entry.methods or case.method in entry.methods)]
    missing = [case for case in chosen if case.status == "not_run"]
    if missing:
        names = ", ".join(case.id for case in missing[:5]) + (" …" if len(missing) > 5 else "")
        return replace(entry, status="not_run", cause="cases_not_run",
                       reason=f"not judged: {len(missing)} of its {len(chosen)} case(s) did not run here ({names})")
    result = evaluate_gate(entry.spec, entry.gate(), [GateCase(case.status, case.result, case.id) for case in chosen], entry.invalid_cases,
                           evidence)
    status, extra = final_gate_status(result.status, entry.xfail)
    reason = extra or result.reason or ("" if status == "passed" else result.reason)
    return replace(entry, status=status, cause="", reason=reason, result=result)


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
    baseline: BaselineSummary | None = None  # the run was compared with a baseline (core/baseline/baseline.py)

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

    def to_dict(self, *, with_cases: bool = True) -> dict[str, Any]:
        """The document; ``with_cases=False`` leaves a placeholder for the cases (write_results streams them)."""
        return {
            "schema": SCHEMA_VERSION,
            "verdict": self.verdict,
            "complete": self.complete,
            "incomplete_reasons": list(self.incomplete_reasons),
            "counts": self.counts(),
            "gate_counts": self.gate_counts(),
            "started": self.started,
            "duration_s": self.duration_s,
            "command": self.command,
            "versions": dict(self.versions),
            "notes": list(self.notes),
            "colormap": self.colormap,
            "cases": [case.to_dict() for case in self.cases] if with_cases else [],
            "gates": [gate.to_dict() for gate in self.gates],
            **({"baseline": self.baseline.to_dict()} if self.baseline is not None else {}),
            **({"baseline_counts": dataclasses.asdict(tally)} if (tally := self.baseline_tally) is not None else {}),
        }

    @staticmethod
    def from_dict(data: Any, source: str = "results") -> RunResults:
        if not isinstance(data, dict) or "cases" not in data:
            raise ResultsError(f"{source}: not a gradcam_audit results file (no 'cases' key)")
        if data.get("schema") != SCHEMA_VERSION:
            raise ResultsError(f"{source}: results schema {data.get('schema')!r} is not supported (this version reads schema "
                               f"{SCHEMA_VERSION}); re-run the audit with this version to write it")
        try:
            duration = float(data.get("duration_s", 0.0))
            return RunResults(
                cases=tuple(CaseEntry.from_dict(case) for case in data["cases"]),
                gates=tuple(GateEntry.from_dict(gate) for gate in data.get("gates", [])),
                started=str(data.get("started", "")),
                duration_s=duration if math.isfinite(duration) else 0.0,
                command=str(data.get("command", "")),
                versions={str(key): str(value) for key, value in dict(data.get("versions", {})).items()},
                notes=tuple(str(note) for note in data.get("notes", ())),
                colormap=str(data.get("colormap", "")),
                baseline=BaselineSummary.from_dict(data.get("baseline")),
            )
        except ResultsError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise ResultsError(f"{source}: an entry is missing a field or has one of the wrong type ({type(error).__name__}: "
                               f"{str(error)[:200]}); the file does not follow results schema {SCHEMA_VERSION}") from None


def write_results(results: RunResults, path: Path) -> None:
    """The ledger as strict, indented JSON, written case by case: a 10,000-case run never holds the whole document
    (its dict, a finite-only copy and one big string) in memory at once. Through the one atomic writer
    (core/files/run_folder.py): a reader never sees half a file, and a full disk is an OutputWriteError naming the folder."""
    document = results.to_dict(with_cases=False)

    def write(handle: TextIO) -> None:
        handle.write("{")
        for position, (key, value) in enumerate(document.items()):
            handle.write(("," if position else "") + "\n  " + json.dumps(key) + ": ")
            if key != "cases":
                handle.write(_indented(dumps_strict(value), 2))
                continue
            handle.write("[")
            for number, case in enumerate(results.cases):
                handle.write(("," if number else "") + "\n    " + _indented(dumps_strict(case.to_dict()), 4))
            handle.write("\n  ]" if results.cases else "]")
        handle.write("\n}")

    write_text_atomically(path, write)


def _indented(text: str, spaces: int) -> str:
    """JSON text nested ``spaces`` deep: every line after the first shifted right."""
    return text.replace("\n", "\n" + " " * spaces)


def read_results(path: Path) -> RunResults:
    return RunResults.from_dict(read_json_file(path), str(path))


def merge_results(runs: list[RunResults], sources: list[str] | None = None) -> RunResults:
    """One ledger from several shards' ledgers.

    Each case keeps the entry that ran; an entry that ran in two files is kept once, with a note naming both
    (merging a shard with itself never doubles it). Gates are judged again from the merged cases, so a gate
    whose cases were split across shards is decided once, from every shard's results, with nothing recomputed.
    """
    if not runs:
        return RunResults(cases=())
    names = sources or [f"results #{index + 1}" for index in range(len(runs))]
    notes: list[str] = [note for run in runs for note in run.notes]
    cases: dict[tuple[str, str, str], CaseEntry] = {}
    origin: dict[tuple[str, str, str], str] = {}
    for run, name in zip(runs, names):
        for case in run.cases:
            kept = cases.get(case.key)
            if kept is None or (kept.status == "not_run" and case.status != "not_run"):
                cases[case.key] = case
                origin[case.key] = name
            elif case.status != "not_run" and kept.status != "not_run":
                notes.append(f"case {case.spec}::{case.id} [{case.method}] is in both {origin[case.key]} and {name}: kept the first "
                             "(were the same shard's results given twice?)")
    # A case that every merged shard left to another shard ran nowhere: its shard's file is missing.
    merged_cases = tuple(
        replace(case, cause="missing_shard", reason=NOT_RUN_CAUSES["missing_shard"]) if case.cause == "other_shard" else case
        for case in cases.values()
    )
    gates: dict[str, GateEntry] = {}
    for run in runs:
        for gate in run.gates:
            gates.setdefault(gate.key, gate)
    merged_gates = tuple(_rejudge(gate, merged_cases) for gate in gates.values())
    return RunResults(
        cases=merged_cases,
        gates=merged_gates,
        started=min(run.started for run in runs),
        duration_s=max(run.duration_s for run in runs),
        command=runs[0].command,
        versions=runs[0].versions,
        notes=tuple(dict.fromkeys(notes)),
        colormap=runs[0].colormap,
        baseline=next((run.baseline for run in runs if run.baseline is not None), None),
    )


def _rejudge(gate: GateEntry, cases: tuple[CaseEntry, ...]) -> GateEntry:
    """A gate that could not be judged in one shard, judged from the merged cases; others stay as they ran."""
    if gate.status == "not_run" and gate.cause in ("cases_not_run", "other_shard", "deselected") and gate.thresholds:
        judged = judge_gate(gate, cases)
        return judged if judged.status != "not_run" else gate
    return gate
