"""The compact plain-text table a failing case prints in the terminal (pytest, CLI, assert helpers)."""

from __future__ import annotations

from collections.abc import Sequence

from gradcam_audit.core.results import CaseResult, ClassInfo
from gradcam_audit.core.scoring import RegionScore


def _class_text(info: ClassInfo | None) -> str:
    if info is None:
        return "?"
    name = info.name
    details = []
    if info.score is not None:
        details.append(f"p={info.score:.2f}")
    if info.logit is not None:
        details.append(f"logit {info.logit:.2f}")
    return f"{name!r}" + (f" ({', '.join(details)})" if details else "")


def region_rows(region: RegionScore) -> list[tuple[str, str, str, str, str, str]]:
    """(region, metric, value, threshold, chance, verdict) rows for one region."""
    rows: list[tuple[str, str, str, str, str, str]] = []

    def verdict(ok: bool) -> str:
        return "ok" if ok else "FAIL"

    if region.min_mass is not None:
        rows.append((region.name, "mass", f"{region.mass:.3f}", f">= {region.min_mass:g}", f"{region.area_share:.3f}", verdict(region.mass >= region.min_mass)))
    if region.max_mass is not None:
        rows.append((region.name, "mass", f"{region.mass:.3f}", f"<= {region.max_mass:g}", f"{region.area_share:.3f}", verdict(region.mass <= region.max_mass)))
    if region.min_lift is not None:
        rows.append((region.name, "lift", f"{region.lift:.2f}", f">= {region.min_lift:g}", "1.00", verdict(region.lift >= region.min_lift)))
    if region.peak_inside is not None:
        rows.append((region.name, "peak inside", "yes" if region.peak_inside else "no", "yes", f"{region.area_share:.3f}", verdict(region.peak_inside)))
    if region.iou is not None and region.min_iou is not None:
        rows.append((region.name, "IoU", f"{region.iou:.3f}", f">= {region.min_iou:g}", "-", verdict(region.iou >= region.min_iou)))
    if not rows:
        rows.append((region.name, "mass", f"{region.mass:.3f}", "-", f"{region.area_share:.3f}", verdict(region.passed)))
    return rows


def format_table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    widths = [max(len(str(row[column])) for row in [header, *rows]) for column in range(len(header))]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]


def failure_text(result: CaseResult, overlay_path: str | None = None) -> str:
    """What a failing case shows instead of a traceback."""
    lines = [f"{result.status.upper()}: {result.reason}" if result.reason else result.status.upper()]
    if result.predicted is not None:
        lines.append(
            f"predicted {_class_text(result.predicted)}; explained target {_class_text(result.target)}; "
            f"layer {result.layer} ({result.layer_reason}); method {result.method}; score {result.score_kind}"
        )
    if result.regions:
        header = ("region", "metric", "value", "threshold", "chance", "verdict")
        rows = [row for region in result.regions for row in region_rows(region)]
        lines.extend("  " + line for line in format_table(rows, header))
    for region in result.regions:
        if region.unseen_share > 0:
            lines.append(f"note: {region.unseen_share:.0%} of {region.name!r} lies outside what the model saw (resize: {result.resize})")
    if result.image:
        lines.append(f"image: {result.image}")
    if overlay_path:
        lines.append(f"overlay: {overlay_path}")
    return "\n".join(lines)
