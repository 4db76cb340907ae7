"""Markdown summary for CI step summaries and PR comments, from the same view models as the HTML."""

from __future__ import annotations

import re
from collections.abc import Callable

from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.rendering.views.comparison_view import build_comparison_view
from gradcam_audit.rendering.views.view_models import build_report_view

# Characters that Markdown (GitHub flavour) or HTML would interpret inside a table cell.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def _cell(text: str) -> str:
    """Text shown literally in a table cell: Markdown and HTML characters backslash-escaped, one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()).replace("&", "&amp;"))


def markdown_summary(results: RunResults, report_link: str | None = None, *, limit: int = 50) -> str:
    """The verdict, counts, each blocking case's story and numbers, and each gate's numbers."""
    view = build_report_view(results)
    icon = "✅" if view.verdict_ok else "❌"
    lines = [f"## {icon} Grad-CAM audit: {_cell(view.verdict)}", "", _cell(view.verdict_detail), ""]
    if view.notes:
        lines += [f"- {_cell(note)}" for note in view.notes] + [""]
    lines.append(" · ".join(f"**{count}** {words}" for _, count, words in view.counts))
    lines.append("")
    failing = [case for case in view.cases if case.blocking]
    if failing:
        lines += ["| case | status | what went wrong | numbers |", "|---|---|---|---|"]
        for case in failing[:limit]:
            numbers = "; ".join(f"{row.region} {row.metric} {row.value} (needs {row.threshold})" for row in case.rows if row.state == "fail")
            lines.append(f"| {_cell(case.suite)} · {_cell(case.case_id)} | {case.status_words} | {_cell(case.headline)} | {_cell(numbers) or '—'} |")
        if len(failing) > limit:
            lines.append(f"\n… and {len(failing) - limit} more failing cases (see the full report).")
        lines.append("")
    for suite in view.suites:
        if suite.gate is None:
            continue
        numbers = ", ".join(f"{row.metric} {row.value} ({row.threshold})" for row in suite.gate.rows if row.state != "info")
        lines.append(f"- Gate {_cell(suite.name)}: **{suite.gate.status_words}** — {_cell(numbers) or 'no thresholds'}")
        lines += [f"  - transplant flip: {_cell(line)}" for line in suite.gate.flips[:5]]
    lines += comparison_markdown(results, _cell)
    if report_link:
        lines += ["", f"Full report (pictures, heatmaps, every case): {_cell(report_link)}"]
    return "\n".join(lines).rstrip() + "\n"


def comparison_markdown(results: RunResults, cell: Callable[[str], str], *, limit: int = 30) -> list[str]:
    """The Markdown summary's comparison lines (none without a baseline)."""
    view = build_comparison_view(results)
    if view is None:
        return []
    header = " | ".join(words for _, words in view.statuses)
    lines = ["", f"### Compared with the baseline ({cell(', '.join(view.sources)) or 'baseline'})", "", cell(view.headline), "",
             f"| suite | {header} |", "|---|" + "---|" * len(view.statuses)]
    for row in (*view.counts, view.total):
        lines.append(f"| {cell(row.suite)} | " + " | ".join(str(count) for count in row.counts) + " |")
    lines += [f"- {cell(note)}" for note in view.notes]
    regressed = [case for case in view.cases if case.status == "regressed"]
    if regressed:
        lines += ["", "| regressed case | what changed |", "|---|---|"]
        lines += [f"| {cell(case.label)} | {cell(case.sentence)} |" for case in regressed[:limit]]
        if len(regressed) > limit:
            lines.append(f"\n… and {len(regressed) - limit} more regressed cases (see the full report).")
    return lines
