"""One ledger from several shards' ledgers, the gates judged again from the merged cases."""

from __future__ import annotations

from dataclasses import replace

from gradcam_audit.core.ledger.entries import NOT_RUN_CAUSES, CaseEntry, GateEntry
from gradcam_audit.core.ledger.judging import judge_gate
from gradcam_audit.core.ledger.run_results import RunResults


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
