"""The comparison with a baseline, as the report, the Markdown summary and JUnit show it: formatting only.

Every verdict here (regressed, improved, ...) and every number was decided in ``core/baseline/compare.py`` and travels on
the results (``CaseResult.baseline``, ``RunResults.baseline``); this module lays them out.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from gradcam_audit.core.baseline.shifts import comparison_counts, suite_shifts
from gradcam_audit.core.records.comparison import COMPARISON_STATUSES, BaselineComparison, CompactHeatmap
from gradcam_audit.core.ledger.entries import CaseEntry
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.rendering.views.check_format import limit_words, percent, value_text, words_for

STATUS_WORDS = {"regressed": "REGRESSED", "improved": "improved", "unchanged": "unchanged", "new": "new", "removed": "removed"}
# The badge colour each comparison status borrows from the report's case statuses.
BADGE = {"regressed": "failed", "improved": "passed", "unchanged": "skipped", "new": "not_run", "removed": "not_run"}
SHIFT_WORDS = {
    "pass_rate": ("cases that passed", "share"),
    "forbidden_mass": ("average attention share on forbidden regions", "share"),
    "required_lift": ("average lift of required regions", "times"),
    "heatmap_similarity": ("average heatmap similarity with the baseline (Spearman)", "number"),
}
# Listed first: what needs attention.
_ORDER = ("regressed", "new", "improved", "unchanged")


@dataclass(frozen=True)
class CountRowView:
    suite: str
    counts: tuple[int, ...]  # in COMPARISON_STATUSES order


@dataclass(frozen=True)
class DeltaRowView:
    region: str
    metric: str
    baseline: str
    candidate: str
    delta: str


@dataclass(frozen=True)
class CheckRowView:
    subject: str
    metric: str
    value: str
    threshold: str
    verdict: str
    state: str  # "ok" | "fail"
    reason: str


@dataclass(frozen=True)
class ComparisonCaseView:
    key: tuple[str, str, str]
    anchor: str  # the case's article in the report ("" when it has none)
    label: str
    status: str
    status_words: str
    badge: str
    sentence: str
    similarity: str
    baseline_status: str
    deltas: tuple[DeltaRowView, ...]
    checks: tuple[CheckRowView, ...]
    notes: tuple[str, ...]
    baseline_images: dict[str, str] = field(default_factory=dict)  # only once read from the baseline's own folder
    candidate_images: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ShiftRowView:
    suite: str
    metric: str
    baseline: str
    candidate: str
    delta: str
    cases: int


@dataclass(frozen=True)
class ComparisonView:
    headline: str
    sources: tuple[str, ...]
    notes: tuple[str, ...]
    statuses: tuple[tuple[str, str], ...]  # (status, words) in column order
    counts: tuple[CountRowView, ...]
    total: CountRowView
    cases: tuple[ComparisonCaseView, ...]
    removed: tuple[str, ...]
    shifts: tuple[ShiftRowView, ...]


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _signed(value: float, kind: str) -> str:
    if kind == "share":
        text = f"{value * 100:+.1f} pp"
    elif kind == "times":
        text = f"{value:+.2f}×"
    else:
        text = f"{value:+.3f}"
    return text.replace("-", "−")


def _show(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "share":
        return percent(value)
    if kind == "times":
        return f"{value:.2f}×"
    return f"{value:.3f}"


def _case_view(case: CaseEntry, comparison: BaselineComparison, anchor: str) -> ComparisonCaseView:
    deltas = tuple(
        DeltaRowView(delta.subject, words_for(delta.metric).label, _show(delta.baseline, words_for(delta.metric).kind),
                     _show(delta.candidate, words_for(delta.metric).kind), _signed(delta.delta, words_for(delta.metric).kind))
        for delta in comparison.deltas
    )
    checks = tuple(CheckRowView(check.subject, words_for(check.metric).label, value_text(check), limit_words(check),
                                "pass" if check.passed else "FAIL", "ok" if check.passed else "fail", check.reason)
                   for check in comparison.checks)
    failing = [check.reason.removeprefix("regressed vs baseline: ") for check in comparison.checks if not check.passed]
    if comparison.status == "regressed":
        sentence = "Regressed against the baseline: " + "; ".join(failing) + "."
    elif comparison.status == "new":
        sentence = "New since the baseline: there is nothing to compare it with."
    elif comparison.status == "improved":
        sentence = "Improved on the baseline, and no regression rule is broken."
    else:
        sentence = "Within every regression rule of the baseline."
    similarity = "—" if comparison.heatmap_similarity is None else f"{comparison.heatmap_similarity:.3f}"
    label = f"{case.spec} · {case.id}" + (f" [{case.method}]" if case.method else "")
    return ComparisonCaseView(case.key, anchor, label, comparison.status, STATUS_WORDS[comparison.status], BADGE[comparison.status], sentence,
                              similarity, comparison.baseline_status or "—", deltas, checks, comparison.notes)


def build_comparison_view(results: RunResults, anchors: Mapping[tuple[str, str, str], str] | None = None) -> ComparisonView | None:
    """The comparison section's content, or None when the run was not compared with a baseline."""
    summary = results.baseline
    compared = [(case, case.comparison) for case in results.cases if case.comparison is not None]
    if summary is None and not compared:
        return None
    counts = comparison_counts(results)
    rows = tuple(CountRowView(suite, tuple(counter[status] for status in COMPARISON_STATUSES)) for suite, counter in sorted(counts.items()))
    total_counter: Counter[str] = Counter()
    for counter in counts.values():
        total_counter.update(counter)
    total = CountRowView("all suites", tuple(total_counter[status] for status in COMPARISON_STATUSES))
    ordered = sorted(compared, key=lambda item: (_ORDER.index(item[1].status), item[0].spec, item[0].id, item[0].method))
    cases = tuple(_case_view(case, comparison, (anchors or {}).get(case.key, "")) for case, comparison in ordered)
    regressed = total_counter["regressed"]
    if regressed:
        headline = f"{_plural(regressed, 'case')} regressed against the baseline: the release is blocked by the baseline's rules."
    else:
        headline = "No case regressed against the baseline."
    shifts = []
    for shift in suite_shifts(results):
        words, kind = SHIFT_WORDS[shift.metric]
        delta = shift.delta
        shifts.append(ShiftRowView(shift.suite, words, _show(shift.baseline, kind), _show(shift.candidate, kind),
                                   "—" if delta is None else _signed(delta, kind), shift.cases))
    removed = tuple(f"{case.spec} · {case.id} [{case.method}] (was {case.baseline_status})" for case in (summary.removed if summary else ()))
    return ComparisonView(
        headline=headline,
        sources=summary.sources if summary else (),
        notes=summary.notes if summary else (),
        statuses=tuple((status, STATUS_WORDS[status]) for status in COMPARISON_STATUSES),
        counts=rows,
        total=total,
        cases=cases,
        removed=removed,
        shifts=tuple(shifts),
    )


def with_pictures(view: ComparisonView, results: RunResults, report_path: Path, *, inline: bool, warn: Callable[[str], None],
                  candidate_images: Mapping[str, dict[str, str]], note: Callable[[str], None] | None = None) -> ComparisonView:
    """Side-by-side pictures: the candidate's as the report already shows them (by anchor), the baseline's read only
    from inside the baseline's own folder, and only where this process read the baseline (never a folder a results
    file names)."""
    from gradcam_audit.rendering.pictures.picture_door import door_data_uris, door_pictures

    summary = results.baseline
    folders = summary.folders if summary is not None else ()
    comparisons = {case.key: case.comparison for case in results.cases if case.comparison is not None}
    entries = {case.key: case for case in results.cases}
    cases = []
    for case in view.cases:
        comparison = comparisons.get(case.key)
        baseline_images: dict[str, str] = {}
        if comparison is not None and comparison.images and 0 <= comparison.source < len(folders):
            context = f"baseline case {case.label!r}: "
            if inline:
                baseline_images = door_data_uris(comparison.images, folders[comparison.source], warn, context, note)
            else:
                pictures = door_pictures(comparison.images, folders[comparison.source], warn, context, note)
                baseline_images = {kind: Path(os.path.relpath(picture, report_path.parent.resolve())).as_posix()
                                   for kind, picture in pictures.items()}
        if not baseline_images and comparison is not None and comparison.heatmap is not None:
            # The baseline run kept no picture files (inline, a shard): draw its stored heatmap, over the case's image
            # when that is readable inside its spec's folder (rendering/pictures/heatmap_pictures.py, through the picture door).
            baseline_images = _drawn_baseline(entries.get(case.key), comparison.heatmap, warn, f"baseline case {case.label!r}: ")
        cases.append(replace(case, baseline_images=baseline_images, candidate_images=dict(candidate_images.get(case.anchor, {}))))
    return replace(view, cases=tuple(cases))


def _drawn_baseline(entry: CaseEntry | None, heatmap: CompactHeatmap, warn: Callable[[str], None], context: str) -> dict[str, str]:
    """The baseline's stored heatmap drawn as the candidate's case is (same image and fit); {} without a result."""
    from gradcam_audit.rendering.pictures.heatmap_pictures import drawn_pictures

    if entry is None or entry.result is None:
        return {}
    return drawn_pictures(replace(entry.result, heatmap=heatmap), Path.cwd(), warn, context)
