"""What the report shows of one case: its story in words, its table, its pictures' legend (formatting records only)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from gradcam_audit.core.ledger.entries import BLOCKING_STATUSES, CaseEntry
from gradcam_audit.core.records.results import CaseResult, ClassInfo
from gradcam_audit.core.records.regions import RegionScore
from gradcam_audit.rendering.views.causal_view import FaithfulnessView, RemovalView, faithfulness_view, removal_views
from gradcam_audit.rendering.views.check_format import chance_text, finding_words, limit_words, percent, value_text, words_for
from gradcam_audit.rendering.views.task_view import TaskKeyView, task_keys, task_target_words

# Order in which cases are listed: what needs attention first.
STATUS_ORDER = ("failed", "error", "xpassed", "not_run", "xfailed", "skipped", "passed")
STATUS_WORDS = {
    "passed": "passed",
    "failed": "FAILED",
    "error": "ERROR",
    "xfailed": "expected failure",
    "xpassed": "UNEXPECTEDLY PASSED",
    "skipped": "skipped",
    "not_run": "NOT RUN",
}
# How a count reads: (one, many).
COUNT_WORDS = {
    "passed": ("passed", "passed"),
    "failed": ("failed", "failed"),
    "error": ("error", "errors"),
    "xfailed": ("expected failure", "expected failures"),
    "xpassed": ("unexpectedly passed", "unexpectedly passed"),
    "skipped": ("skipped", "skipped"),
    "not_run": ("not run", "not run"),
}
ROLE_WORDS = {"required": "must look here", "forbidden": "must not look here", "check": "measured only"}



@dataclass(frozen=True)
class RegionKeyView:
    """One entry of a picture's legend: the number of the badge drawn beside the region (rendering/pictures/overlay.py)."""

    number: int
    name: str
    role: str
    role_words: str
    verdict: str  # "passed" | "FAILED" | "measured only"
    state: str  # "ok" | "fail" | "info"


@dataclass(frozen=True)
class RowView:
    """One line of a case's table: one threshold on one region."""

    region: str
    role: str
    role_words: str
    metric: str
    value: str
    threshold: str
    chance: str
    verdict: str
    state: str  # "ok" | "fail" | "info"


@dataclass(frozen=True)
class CaseView:
    anchor: str
    suite: str
    case_id: str
    method: str
    status: str
    status_words: str
    blocking: bool
    headline: str  # the case's story in one plain sentence
    findings: tuple[str, ...]  # each missed threshold, in words
    notes: tuple[str, ...]  # things worth knowing that are not failures
    reason: str  # the technical reason, as the engine wrote it
    degenerate: str
    xfail: str
    tags: tuple[str, ...]
    tags_json: str
    predicted: str
    target: str
    expected: str
    class_note: str
    layer: str
    image_path: str
    rows: tuple[RowView, ...]
    images: dict[str, str]
    pictures_note: str
    nodeid: str
    sort_mass: str  # lowest attention share on a required region, for sorting ("" when none)
    legend: tuple[RegionKeyView, ...] = ()  # the numbered regions of the pictures, in badge order
    removals: tuple[RemovalView, ...] = ()  # regions whose causal effect was measured (rendering/views/causal_view.py)
    faithfulness: FaithfulnessView | None = None  # the deletion / insertion curves, where measured
    task_target: str = ""  # a segmentation / detection case: what it explained and the detection matched, in words
    task_keys: tuple[TaskKeyView, ...] = ()  # the legend of the target and detection drawn in the pictures


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _class_text(info: ClassInfo | None) -> str:
    if info is None:
        return "—"
    name = info.name
    details = []
    if info.score is not None:
        details.append(f"probability {info.score:.2f}")
    if info.logit is not None:
        details.append(f"logit {info.logit:.2f}")
    return f"{name} ({', '.join(details)})" if details else name


def _region_rows(region: RegionScore) -> list[RowView]:
    rows = [
        RowView(region.name, region.role, ROLE_WORDS.get(region.role, region.role), words_for(check.metric).label, value_text(check),
                limit_words(check), chance_text(check, region), "pass" if check.passed else "FAIL", "ok" if check.passed else "fail")
        for check in region.checks
    ]
    if not rows:
        rows.append(RowView(region.name, region.role, ROLE_WORDS.get(region.role, region.role), "attention share", percent(region.mass),
                            "—", percent(region.area_share), "measured only", "info"))
    return rows


def _case_rows(case: CaseEntry) -> list[RowView]:
    result = case.result
    if result is None:
        return []
    rows = [RowView(check.subject, "check", "must hold", words_for(check.metric).label, value_text(check), limit_words(check), "—",
                    "pass" if check.passed else "FAIL", "ok" if check.passed else "fail") for check in result.checks]
    return rows + [row for region in result.regions for row in _region_rows(region)]


def _region_findings(region: RegionScore) -> list[str]:
    """Each missed check of a region as a plain sentence fragment."""
    return [finding_words(check, region) for check in region.checks if not check.passed]


def sentence(parts: list[str], *, capital: bool = True) -> str:
    text = "; ".join(part for part in parts if part)
    if not text:
        return ""
    return (text[:1].upper() if capital else text[:1]) + text[1:] + ("" if text.endswith(".") else ".")


def _wrong_prediction(result: CaseResult | None) -> str:
    if result is None:
        return ""
    return next((finding_words(check) for check in result.checks if check.metric == "predicted_class" and not check.passed), "")


def _class_note(result: CaseResult | None) -> str:
    if result is None:
        return ""
    notes = [_wrong_prediction(result)]
    if result.target is not None and result.predicted is not None and result.target.index != result.predicted.index:
        notes.append(f"the heatmap explains “{result.target.name}”, which is not the class the model predicted")
    return sentence(notes)


def _headline(case: CaseEntry, findings: list[str]) -> str:
    """The case's story in one sentence a non-engineer can act on."""
    result = case.result
    problems = [_wrong_prediction(result), *findings]
    if case.status == "passed":
        return "Met every threshold: the model looked where it should and not where it must not."
    if case.status == "not_run":
        return f"Not run: {sentence([case.reason], capital=False)}" if case.reason else "Not run."
    if case.status == "skipped":
        return f"Skipped: {sentence([case.reason], capital=False)}" if case.reason else "Skipped."
    if case.status == "xpassed":
        return ("Expected to fail, but met every threshold: if the known problem is fixed, remove the expected-failure mark "
                "from the spec; until then this blocks the release.")
    prefix = {"failed": "Failed", "xfailed": "Failed, as expected", "error": "Could not be checked"}.get(case.status, case.status)
    if result is not None and result.degenerate:
        return f"{prefix}: no usable heatmap — {result.degenerate}."
    if case.status == "error" or not any(problems):
        return f"{prefix}: {case.reason or 'no reason was recorded'}" + ("" if (case.reason or "").endswith(".") else ".")
    return f"{prefix}: " + sentence(problems, capital=False)


def _pictures_note(case: CaseEntry) -> str:
    if "overlay" in case.images:
        return ""
    if case.result is not None and case.result.degenerate:
        return "No heatmap overlay: the heatmap is degenerate (see above), so there is nothing to draw."
    if case.status in ("error", "skipped", "not_run") and not case.images:
        return "No pictures: the case did not run far enough to produce any."
    if not case.images:
        return "No pictures were written for this case (report written without images, or the image could not be read)."
    return "No heatmap overlay was produced for this case."


def region_legend(regions: tuple[RegionScore, ...]) -> tuple[RegionKeyView, ...]:
    """The pictures' legend: each outlined region with the number its badge shows (its position in the results + 1)."""
    legend = []
    for index, region in enumerate(regions):
        if not region.outline:
            continue
        verdict, state = ("measured only", "info") if not region.checks else (("passed", "ok") if region.passed else ("FAILED", "fail"))
        legend.append(RegionKeyView(index + 1, region.name, region.role, ROLE_WORDS.get(region.role, region.role), verdict, state))
    return tuple(legend)


def case_view(case: CaseEntry, index: int, show_method: bool) -> CaseView:
    result = case.result
    regions = result.regions if result is not None else ()
    rows = tuple(_case_rows(case))
    findings = [finding for region in regions for finding in _region_findings(region)]
    # Regressions against a baseline are case-level checks whose reason already reads as a sentence.
    findings += [check.reason for check in (result.checks if result is not None else ()) if not check.passed and check.threshold_key.startswith("baseline.")]
    notes = [
        f"{percent(region.unseen_share)} of “{region.name}” is cropped away before the model sees the picture"
        for region in regions if region.unseen_share > 0
    ]
    required_masses = [region.mass for region in regions if region.role == "required"]
    return CaseView(
        anchor=f"case-{index}",
        suite=case.spec,
        case_id=case.id + (f" [{case.method}]" if show_method else ""),
        method=case.method,
        status=case.status,
        status_words=STATUS_WORDS.get(case.status, case.status),
        blocking=case.status in BLOCKING_STATUSES,
        headline=_headline(case, findings),
        findings=tuple(sentence([finding]) for finding in findings),
        notes=tuple(sentence([note]) for note in notes),
        reason=case.reason,
        degenerate=(result.degenerate if result is not None else None) or "",
        xfail=case.xfail or "",
        tags=case.tags,
        tags_json=json.dumps(list(case.tags), ensure_ascii=False),
        predicted=_class_text(result.predicted if result is not None else None),
        target=_class_text(result.target if result is not None else None),
        expected=_class_text(result.expect_class) if result is not None and result.expect_class else "",
        class_note=_class_note(result),
        layer=(result.layer if result is not None else None) or "—",
        image_path=(result.image if result is not None else None) or "",
        rows=rows,
        images=dict(case.images),
        pictures_note=_pictures_note(case),
        nodeid=case.nodeid or f"{case.spec}::{case.id}",
        sort_mass=f"{min(required_masses):.6f}" if required_masses else "",
        legend=region_legend(regions),
        removals=removal_views(case),
        faithfulness=faithfulness_view(case),
        task_target=task_target_words(result.task_target if result is not None else None),
        task_keys=task_keys(result.task_target if result is not None else None),
    )


