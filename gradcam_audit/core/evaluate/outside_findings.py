"""Beyond the boxes, suite-wide: the share of cases that fail ``max_outside_effect`` and their hotspots grouped by
position (relative coordinates, so images of different sizes agree), computed from case results alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from gradcam_audit.core.records.checks import Check, decide, limit_text
from gradcam_audit.core.records.codec import JsonForm
from gradcam_audit.core.records.results import CaseResult

OUTSIDE_KEY = "max_outside_effect"
JOIN_OVERLAP = 0.5  # a hotspot joins a finding when their boxes share at least this much of the smaller one's area
EXAMPLES_KEPT = 5
RelativeBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Finding:
    """A place (relative box) where removing a cell lowers p(target) beyond the limit in ``cases`` cases."""

    box_relative: RelativeBox
    cases: int
    share: float  # cases ÷ cases measured
    mean_effect: float  # mean over those cases of their largest drop there
    examples: tuple[str, ...]
    named_by: tuple[str, ...] = ()  # regions of those cases (never required ones) that cover it
    measured: int = 0  # the cases measured in all (the share's denominator)

    @property
    def sentence(self) -> str:
        """The finding in words, as the terminal and the report say it."""
        return describe_finding(self, self.measured)

    # The sentence is written so a reader of the file has the finding in words; read back, it is recomputed.
    JSON_FORM: ClassVar[JsonForm] = JsonForm(derived={"sentence": lambda finding: finding.sentence})


def outside_check_of(result: CaseResult | None) -> Check | None:
    """The case's decided ``max_outside_effect`` check, or None when it was not measured."""
    if result is None:
        return None
    return next((check for check in result.checks if check.threshold_key == OUTSIDE_KEY), None)


def _relative(box: tuple[int, int, int, int], size: tuple[int, int]) -> RelativeBox:
    width, height = size
    return (box[0] / width, box[1] / height, box[2] / width, box[3] / height)


def _area(box: RelativeBox) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _overlap(first: RelativeBox, second: RelativeBox) -> float:
    """Shared area ÷ the smaller box's area."""
    shared = _area((max(first[0], second[0]), max(first[1], second[1]), min(first[2], second[2]), min(first[3], second[3])))
    smaller = min(_area(first), _area(second))
    return shared / smaller if smaller > 0 else 0.0


def _region_boxes(result: CaseResult, size: tuple[int, int]) -> list[tuple[str, RelativeBox]]:
    """The non-required regions' bounding boxes, relative (a forbidden region is swept too: it may name a finding)."""
    boxes = []
    for region in result.regions:
        if region.role != "required" and region.outline:
            xs = [point[0] for point in region.outline]
            ys = [point[1] for point in region.outline]
            boxes.append((region.name, _relative((int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys))), size)))
    return boxes


def outside_findings(results: Sequence[CaseResult]) -> tuple[tuple[Finding, ...], int]:
    """The findings over the cases that failed ``max_outside_effect``, most cases first, and how many cases were measured.

    Each failing case contributes its hotspots beyond its limit (at least its strongest); hotspots are taken strongest
    first and each joins the first finding whose seed box it overlaps (``JOIN_OVERLAP``); a case counts once per finding.
    """
    measured = [result for result in results if outside_check_of(result) is not None]
    spots: list[tuple[float, str, RelativeBox, CaseResult]] = []
    for result in measured:
        check = outside_check_of(result)
        if check is None or check.passed or result.outside is None or not result.outside.hotspots or result.image_size is None:
            continue
        limit = float(check.limit) if isinstance(check.limit, (int, float)) else 0.0
        chosen = [spot for spot in result.outside.hotspots if spot.effect > limit] or [result.outside.hotspots[0]]
        spots.extend((spot.effect, result.id, _relative(spot.box, result.image_size), result) for spot in chosen)
    spots.sort(key=lambda item: (-item[0], item[1]))
    groups: list[tuple[RelativeBox, dict[str, tuple[float, RelativeBox, CaseResult]]]] = []
    for effect, case_id, box, result in spots:
        group = next((members for seed, members in groups if _overlap(seed, box) >= JOIN_OVERLAP), None)
        if group is None:
            groups.append((box, {case_id: (effect, box, result)}))
        elif case_id not in group:
            group[case_id] = (effect, box, result)
    findings = [_finding(members, len(measured)) for _seed, members in groups]
    findings.sort(key=lambda finding: (-finding.cases, -finding.mean_effect, finding.box_relative))
    return tuple(findings), len(measured)


def _finding(members: dict[str, tuple[float, RelativeBox, CaseResult]], measured: int) -> Finding:
    count = len(members)
    mean_box = tuple(round(sum(box[index] for _effect, box, _result in members.values()) / count, 4) for index in range(4))
    box: RelativeBox = (mean_box[0], mean_box[1], mean_box[2], mean_box[3])
    named = sorted({name for _effect, _box, result in members.values() if result.image_size is not None
                    for name, region_box in _region_boxes(result, result.image_size) if _overlap(region_box, box) >= JOIN_OVERLAP})
    return Finding(box, count, count / measured if measured else 0.0,
                   sum(effect for effect, _box, _result in members.values()) / count, tuple(sorted(members)[:EXAMPLES_KEPT]),
                   tuple(named), measured)


def position_words(box: RelativeBox) -> str:
    """Where a relative box lies, in words: "the top-left corner", "the bottom edge", "the centre"."""
    centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    horizontal = "left" if centre_x < 1 / 3 else "right" if centre_x > 2 / 3 else ""
    vertical = "top" if centre_y < 1 / 3 else "bottom" if centre_y > 2 / 3 else ""
    if horizontal and vertical:
        return f"the {vertical}-{horizontal} corner"
    if horizontal or vertical:
        return f"the {horizontal or vertical} edge"
    return "the centre"


def describe_finding(finding: Finding, measured: int) -> str:
    """A finding in one sentence: "in 37 of 50 cases, removing the top-left corner drops p by 0.93 on average; ..."."""
    box = ", ".join(f"{value:.2f}" for value in finding.box_relative)
    named = (f"only region {', '.join(map(repr, finding.named_by))} (not a required one) covers it" if finding.named_by
             else "no region names it")
    return (f"in {finding.cases} of {measured} cases, removing {position_words(finding.box_relative)} "
            f"(relative box [{box}]) drops p by {finding.mean_effect:.2f} on average; {named}")


def dependence_check(results: Sequence[CaseResult], limit: float) -> tuple[Check, float | None, tuple[Finding, ...], int]:
    """The gate's ``max_outside_dependence_rate`` check, its value, the findings and the number of cases measured."""
    findings, measured = outside_findings(results)
    failed = sum(1 for result in results if (check := outside_check_of(result)) is not None and not check.passed)
    rate = failed / measured if measured else None
    if rate is None:
        reason = ("outside_dependence_rate cannot be computed: no case was measured with max_outside_effect (set it in `defaults:` "
                  "or the cases; a case whose required regions cover the whole image has nothing outside to test)")
    else:
        where = f"; {describe_finding(findings[0], measured)}" if findings else ""
        reason = (f"outside_dependence_rate {rate:.3f} > max_outside_dependence_rate {limit_text(limit)} ({failed} of {measured} "
                  f"measured cases depend on pixels outside their required regions{where})")
    check = decide("gate", "outside_dependence_rate", rate, "<=", float(limit), threshold_key="max_outside_dependence_rate", reason=reason)
    return check, rate, findings, measured
