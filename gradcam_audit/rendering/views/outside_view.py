"""What the report and the terminal show of the sweep beyond the boxes: the suite's findings in words, drawn on a grid
thumbnail, and each affected case's hotspot boxes; formats the core's records, decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gradcam_audit.core.ledger.entries import CaseEntry, GateEntry

from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.evaluate.outside_findings import Finding, outside_check_of, outside_findings

CASES_SHOWN = 6  # affected cases drawn per suite
TERMINAL_FINDINGS = 3  # findings said per suite at the end of a pytest run


@dataclass(frozen=True)
class OutsideBoxView:
    """A box to draw, in the coordinates of its picture's viewBox, with what it is."""

    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class OutsideCaseView:
    case_id: str
    view_width: int  # the image's size: the picture's viewBox
    view_height: int
    boxes: tuple[OutsideBoxView, ...]
    caption: str


@dataclass(frozen=True)
class OutsideView:
    """The section "What the model relies on outside your regions" of one suite."""

    sentences: tuple[str, ...]
    findings: tuple[OutsideBoxView, ...]  # on a 100 × 100 thumbnail with the 4 × 4 grid
    cases: tuple[OutsideCaseView, ...]
    summary: str


def _suite_findings(gate: GateEntry | None, cases: Sequence[CaseEntry]) -> tuple[Finding, ...]:
    """The gate's findings when it measured them, else the same records computed from the suite's case results."""
    if gate is not None and gate.result is not None and "outside_dependence_rate" in gate.result.measurements:
        return gate.result.findings
    findings, _measured = outside_findings([case.result for case in cases if case.result is not None])
    return findings


def _affected(cases: Sequence[CaseEntry]) -> list[CaseEntry]:
    return [case for case in cases if (check := outside_check_of(case.result)) is not None and not check.passed]


def outside_view(gate: GateEntry | None, cases: Sequence[CaseEntry]) -> OutsideView | None:
    """The suite's section, or None when no case of it was swept."""
    measured = [case for case in cases if outside_check_of(case.result) is not None]
    if not measured:
        return None
    findings = _suite_findings(gate, cases)
    affected = _affected(cases)
    finding_boxes = tuple(OutsideBoxView(round(finding.box_relative[0] * 100, 2), round(finding.box_relative[1] * 100, 2),
                                         round((finding.box_relative[2] - finding.box_relative[0]) * 100, 2),
                                         round((finding.box_relative[3] - finding.box_relative[1]) * 100, 2), f"#{index + 1}")
                          for index, finding in enumerate(findings))
    case_views = []
    for case in affected[:CASES_SHOWN]:
        result = case.result
        if result is None or result.outside is None or result.image_size is None:
            continue
        boxes = tuple(OutsideBoxView(spot.box[0], spot.box[1], spot.box[2] - spot.box[0], spot.box[3] - spot.box[1],
                                     f"{list(spot.box)}: p drops by {spot.effect:.2f}") for spot in result.outside.hotspots)
        caption = f"{case.id}: " + "; ".join(box.label for box in boxes)
        case_views.append(OutsideCaseView(case.id, result.image_size[0], result.image_size[1], boxes, caption))
    summary = (f"{len(affected)} of {len(measured)} cases measured depend on pixels outside their required regions "
               f"(max_outside_effect missed)." if affected else
               f"No cell outside the required regions moved p beyond max_outside_effect in the {len(measured)} cases measured.")
    return OutsideView(tuple(f"#{index + 1}: {finding.sentence}" for index, finding in enumerate(findings)), finding_boxes,
                       tuple(case_views), summary)


def terminal_lines(results: RunResults) -> list[str]:
    """A few lines for the end of a pytest run: each suite's strongest findings, in words (nothing when none)."""
    gates = {gate.spec: gate for gate in results.gates}
    lines: list[str] = []
    for spec in sorted({case.spec for case in results.cases}):
        cases = [case for case in results.cases if case.spec == spec]
        if not _affected(cases):
            continue
        findings = _suite_findings(gates.get(spec), cases)
        lines.append(f"beyond the boxes, {spec}:")
        lines.extend(f"  {finding.sentence}" for finding in findings[:TERMINAL_FINDINGS])
    return lines
