"""The one-line audit summary pytest and the CLI print at the end: the ledger's verdict and counts."""

from __future__ import annotations

from gradcam_audit.core.ledger.run_results import RunResults

VERDICT_WORDS = {"passed": "PASSED", "failed": "FAILED", "incomplete": "INCOMPLETE"}


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {status.replace('_', ' ')}" for status, count in counts.items())


def summary_line(results: RunResults) -> str:
    """"gradcam audit INCOMPLETE: 3 passed, 45 not run; gates: 2 not run (45 not run: the run was interrupted …)"."""
    counts = dict(results.counts())
    selection = results.not_selected()
    if selection:
        counts["not_run"] -= selection
        if not counts["not_run"]:
            del counts["not_run"]
    parts = [counts_text(counts) or "no cases"]
    if selection:
        parts[0] += f" ({selection} not selected)"
    if results.gates:
        parts.append("gates: " + counts_text(results.gate_counts()))
    tally = results.baseline_tally
    if tally is not None:
        parts.append(f"baseline: {tally.compared} compared, {tally.regressed} regressed, {tally.new} new, {tally.removed} removed")
    line = f"gradcam audit {VERDICT_WORDS[results.verdict]}: " + "; ".join(parts)
    if not results.complete:
        line += " (" + "; ".join(results.incomplete_reasons) + ")"
    return line
