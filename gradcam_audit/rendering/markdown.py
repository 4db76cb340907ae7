"""Markdown summary for CI step summaries and PR comments, from the same view models as the HTML."""

from __future__ import annotations

from gradcam_audit.core.results import RunResults
from gradcam_audit.rendering.view_models import BLOCKING_STATUSES, build_report_view


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_summary(results: RunResults, report_link: str | None = None, *, limit: int = 50) -> str:
    view = build_report_view(results)
    icon = "✅" if view.verdict_ok else "❌"
    lines = [f"## {icon} Grad-CAM audit: {view.verdict}", ""]
    lines.append(" · ".join(f"**{count}** {words}" for words, count in view.counts))
    lines.append("")
    failing = [case for case in view.cases if case.status in BLOCKING_STATUSES]
    if failing:
        lines += ["| case | status | reason | numbers |", "|---|---|---|---|"]
        for case in failing[:limit]:
            numbers = "; ".join(f"{row.region} {row.metric} {row.value} ({row.threshold})" for row in case.rows)
            lines.append(f"| `{_cell(case.nodeid)}` | {case.status_words} | {_cell(case.reason)} | {_cell(numbers)} |")
        if len(failing) > limit:
            lines.append(f"\n… and {len(failing) - limit} more failing cases.")
        lines.append("")
    for suite in view.suites:
        if suite.gate:
            lines.append(f"- Gate `{_cell(suite.name)}`: {suite.gate.status_words}" + (f" — {_cell(suite.gate.reason)}" if suite.gate.reason else ""))
    if report_link:
        lines += ["", f"Full report: `{report_link}`"]
    return "\n".join(lines).rstrip() + "\n"
