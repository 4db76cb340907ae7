"""Plain-text renderings for the terminal (pytest, CLI, assert helpers): a case's table, a gate's, JUnit properties.

Every verdict shown here is a check record's `passed`; nothing is compared here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gradcam_audit.core.records.checks import Check
from gradcam_audit.core.ledger.entries import CaseEntry, GateEntry
from gradcam_audit.core.records.results import ClassInfo
from gradcam_audit.core.records.regions import RegionScore
from gradcam_audit.rendering.views.check_format import chance_text, limit_words, value_text


def _class_text(info: ClassInfo | None) -> str:
    if info is None:
        return "?"
    details = []
    if info.score is not None:
        details.append(f"p={info.score:.2f}")
    if info.logit is not None:
        details.append(f"logit {info.logit:.2f}")
    return f"{info.name!r}" + (f" ({', '.join(details)})" if details else "")


def check_row(check: Check, region: RegionScore | None = None) -> tuple[str, str, str, str, str, str]:
    """(subject, metric, value, threshold, chance, verdict) for one decided check."""
    return (check.subject, check.metric.replace("_", " "), value_text(check, plain=True), limit_words(check, plain=True),
            chance_text(check, region, plain=True), "ok" if check.passed else "FAIL")


def region_rows(region: RegionScore) -> list[tuple[str, str, str, str, str, str]]:
    rows = [check_row(check, region) for check in region.checks]
    if not rows:
        rows.append((region.name, "mass", f"{region.mass:.3f}", "-", f"{region.area_share:.3f}", "measured"))
    return rows


def format_table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    widths = [max(len(str(row[column])) for row in [header, *rows]) for column in range(len(header))]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]


def failure_text(entry: CaseEntry, overlay_path: str | None = None) -> str:
    """What a case that did not pass shows instead of a traceback."""
    words = {"not_run": "NOT RUN", "xpassed": "XPASS(strict)"}.get(entry.status, entry.status.upper())
    lines = [f"{words}: {entry.reason}" if entry.reason else words]
    result = entry.result
    if result is not None and result.predicted is not None:
        lines.append(
            f"predicted {_class_text(result.predicted)}; explained target {_class_text(result.target)}; "
            f"layer {result.layer} ({result.layer_reason}); method {result.method}; score {result.score_kind}"
        )
    if result is not None and (result.regions or result.checks):
        header = ("region", "metric", "value", "threshold", "chance", "verdict")
        rows = [check_row(check) for check in result.checks] + [row for region in result.regions for row in region_rows(region)]
        lines.extend("  " + line for line in format_table(rows, header))
        for region in result.regions:
            if region.unseen_share > 0:
                lines.append(f"note: {region.unseen_share:.0%} of {region.name!r} lies outside what the model saw (resize: {result.resize})")
    if result is not None and result.image:
        lines.append(f"image: {result.image}")
    if overlay_path:
        lines.append(f"overlay: {overlay_path}")
    return "\n".join(lines)


def gate_failure_text(entry: GateEntry) -> str:
    words = {"not_run": "NOT RUN", "xpassed": "XPASS(strict)"}.get(entry.status, entry.status.upper())
    lines = [f"gate {words}: {entry.reason}" if entry.reason else f"gate {words}"]
    if entry.result is not None and entry.result.checks:
        header = ("scope", "metric", "value", "threshold", "verdict")
        rows = [check_row(check)[:4] + (check_row(check)[5],) for check in entry.result.checks]
        lines.extend("  " + line for line in format_table(rows, header))
    return "\n".join(lines)


def junit_properties(entry: CaseEntry) -> list[tuple[str, object]]:
    """Flat numbers for --junitxml (record_property style)."""
    result = entry.result
    properties: list[tuple[str, object]] = [("gradcam_status", entry.status), ("gradcam_method", entry.method)]
    if result is None:
        return properties
    properties.append(("gradcam_layer", result.layer or ""))
    if result.predicted is not None:
        properties.append(("gradcam_predicted", result.predicted.label or result.predicted.index))
    for region in result.regions:
        properties.append((f"gradcam_{region.name}_mass", round(region.mass, 6)))
        properties.append((f"gradcam_{region.name}_lift", round(region.lift, 6)))
        properties.append((f"gradcam_{region.name}_passed", region.passed))
    return properties + comparison_junit_properties(entry)


def comparison_junit_properties(entry: CaseEntry) -> list[tuple[str, Any]]:
    """A case's comparison as flat JUnit properties (counting ``gradcam_baseline`` values gives the summary's counts)."""
    comparison = entry.comparison
    if comparison is None:
        return []
    properties: list[tuple[str, Any]] = [("gradcam_baseline", comparison.status), ("gradcam_baseline_regressed", comparison.regressed)]
    if comparison.heatmap_similarity is not None:
        properties.append(("gradcam_baseline_heatmap_similarity", round(comparison.heatmap_similarity, 6)))
    for delta in comparison.deltas:
        properties.append((f"gradcam_{delta.subject}_{delta.metric}_baseline", round(delta.baseline, 6)))
        properties.append((f"gradcam_{delta.subject}_{delta.metric}_delta", round(delta.delta, 6)))
    return properties
