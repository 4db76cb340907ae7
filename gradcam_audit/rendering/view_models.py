"""View models: every value the report and the Markdown summary show, computed from results alone."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gradcam_audit.core.records.checks import Check
from gradcam_audit.core.ledger.ledger import BLOCKING_STATUSES, CaseEntry, GateEntry, RunResults
from gradcam_audit.core.records.results import CaseResult, ClassInfo
from gradcam_audit.core.evaluate.scoring import RegionScore
from gradcam_audit.rendering.causal_view import (
    CascadeStageView,
    FaithfulnessView,
    RemovalView,
    cascade_views,
    faithfulness_view,
    flip_lines,
    removal_views,
)
from gradcam_audit.rendering.colour_words import colormap_ends
from gradcam_audit.rendering.check_format import chance_text, finding_words, limit_words, percent, value_text, words_for
from gradcam_audit.rendering.comparison_view import ComparisonView, build_comparison_view
from gradcam_audit.rendering.outside_view import OutsideView, outside_view

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

GLOSSARY = (
    ("Heatmap", "Colours laid over the picture show where the model looked when it made its decision "
                "(red = most attention, blue = least), computed with Grad-CAM."),
    ("Green solid box", "A region the model must look at (required), e.g. the object itself."),
    ("Red dashed box", "A region the model must not rely on (forbidden), e.g. a watermark, a tag or the background."),
    ("Attention share (mass)", "How much of the heatmap's total falls inside a region: 100% means all the attention is there."),
    ("Chance", "The region's share of the picture's area: the attention share a model that looked everywhere equally would give it."),
    ("Lift", "Attention share ÷ chance. 1× is no better than chance; 3× means three times the attention the region's size alone explains."),
    ("Expected failure", "A known problem recorded in the spec. It does not block the release; "
                         "if it unexpectedly passes, the run fails so that someone removes the mark."),
)


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
    removals: tuple[RemovalView, ...] = ()  # regions whose causal effect was measured (rendering/causal_view.py)
    faithfulness: FaithfulnessView | None = None  # the deletion / insertion curves, where measured


@dataclass(frozen=True)
class GateRowView:
    metric: str
    value: str
    threshold: str
    verdict: str
    state: str  # "ok" | "fail" | "info"


@dataclass(frozen=True)
class GateView:
    suite: str
    status: str
    status_words: str
    headline: str
    reason: str
    rows: tuple[GateRowView, ...]
    flips: tuple[str, ...] = ()  # transplant pairs whose prediction changed to the donor's class
    cascade: tuple[CascadeStageView, ...] = ()  # the cascading weight randomisation, top layer down
    cascade_case: str = ""


@dataclass(frozen=True)
class ModelView:
    path: str
    sha256: str
    layers: str
    methods: str
    score: str
    preprocess: str
    resize: str


@dataclass(frozen=True)
class SuiteView:
    name: str
    anchor: str
    counts: str
    gate: GateView | None
    chart: str = ""  # data URI of the per-class chart, if rendered
    chart_alt: str = ""
    outside: OutsideView | None = None  # what the model relies on outside the regions (max_outside_effect)


@dataclass(frozen=True)
class AttentionItemView:
    """A blocking case in the header's 'needs attention' list."""

    anchor: str
    label: str
    status_words: str
    headline: str


@dataclass(frozen=True)
class ReportView:
    title: str
    verdict: str
    verdict_ok: bool
    verdict_detail: str
    counts: tuple[tuple[str, int, str], ...]  # (status, count, words)
    started: str
    duration: str
    command: str
    versions: tuple[tuple[str, str], ...]
    models: tuple[ModelView, ...]
    suites: tuple[SuiteView, ...]
    cases: tuple[CaseView, ...]
    attention: tuple[AttentionItemView, ...]
    attention_more: int
    status_options: tuple[tuple[str, str], ...]  # (value, label)
    suite_options: tuple[tuple[str, str], ...]
    tag_options: tuple[tuple[str, str], ...]
    glossary: tuple[tuple[str, str], ...]
    total_cases: int
    scope: str  # "48 cases in 2 suites"
    notes: tuple[str, ...]  # why the run is incomplete, merge warnings, crashes
    unfinished: tuple[str, ...]  # the first entries that did not run, each with why
    comparison: ComparisonView | None = None  # the comparison with a baseline run, when there was one


def glossary(colormap: str) -> tuple[tuple[str, str], ...]:
    """The glossary, its heatmap entry naming the colours of the colormap the pictures were drawn with."""
    most, least = colormap_ends(colormap)
    heatmap = ("Heatmap", f"Colours laid over the picture show where the model looked when it made its decision "
                          f"({most} = most attention, {least} = least), computed with Grad-CAM.")
    return (heatmap, *GLOSSARY[1:])


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


def _sentence(parts: list[str], *, capital: bool = True) -> str:
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
    return _sentence(notes)


def _headline(case: CaseEntry, findings: list[str]) -> str:
    """The case's story in one sentence a non-engineer can act on."""
    result = case.result
    problems = [_wrong_prediction(result), *findings]
    if case.status == "passed":
        return "Met every threshold: the model looked where it should and not where it must not."
    if case.status == "not_run":
        return f"Not run: {_sentence([case.reason], capital=False)}" if case.reason else "Not run."
    if case.status == "skipped":
        return f"Skipped: {_sentence([case.reason], capital=False)}" if case.reason else "Skipped."
    if case.status == "xpassed":
        return ("Expected to fail, but met every threshold: if the known problem is fixed, remove the expected-failure mark "
                "from the spec; until then this blocks the release.")
    prefix = {"failed": "Failed", "xfailed": "Failed, as expected", "error": "Could not be checked"}.get(case.status, case.status)
    if result is not None and result.degenerate:
        return f"{prefix}: no usable heatmap — {result.degenerate}."
    if case.status == "error" or not any(problems):
        return f"{prefix}: {case.reason or 'no reason was recorded'}" + ("" if (case.reason or "").endswith(".") else ".")
    return f"{prefix}: " + _sentence(problems, capital=False)


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


def _case_view(case: CaseEntry, index: int, show_method: bool) -> CaseView:
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
        findings=tuple(_sentence([finding]) for finding in findings),
        notes=tuple(_sentence([note]) for note in notes),
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
        removals=removal_views(case),
        faithfulness=faithfulness_view(case),
    )


def _gate_rows(gate: GateEntry) -> list[GateRowView]:
    result = gate.result
    if result is None:
        return []
    rows = [GateRowView(("" if check.subject == "gate" else f"{check.subject}: ") + words_for(check.metric).label, value_text(check),
                        limit_words(check), "pass" if check.passed else "FAIL", "ok" if check.passed else "fail") for check in result.checks]
    gated = {check.metric for check in result.checks if check.subject == "gate"}
    for metric, value in result.measurements.items():
        if metric not in gated:
            info = Check("gate", metric, value, None, ">=", False)
            rows.append(GateRowView(words_for(metric).label, value_text(info), "not gated", "for information", "info"))
    return rows


def _gate_view(gate: GateEntry, colormap: str) -> GateView:
    rows = _gate_rows(gate)
    misses = [row.metric for row in rows if row.state == "fail"]
    counted = gate.result.cases_counted if gate.result is not None else 0
    over = f" over {plural(counted, 'case')}" if counted else ""
    if gate.status == "passed":
        headline = f"Gate passed{over}: every suite-level threshold is met."
    elif gate.status == "xfailed":
        headline = f"Gate failed{over}, as expected (known problem)" + (": " + ", ".join(misses) + " below threshold." if misses else ".")
    elif gate.status == "xpassed":
        headline = f"Gate was expected to fail but passed{over}: remove the expected-failure mark if the problem is fixed."
    elif gate.status == "not_run":
        headline = f"Gate not judged: {_sentence([gate.reason], capital=False)}"
    elif gate.status == "error":
        headline = f"Gate could not be judged: {_sentence([gate.reason], capital=False)}"
    elif misses:
        headline = f"Gate FAILED{over}: " + ", ".join(misses) + " below threshold."
    else:
        headline = f"Gate {STATUS_WORDS.get(gate.status, gate.status)}{over}."
    return GateView(gate.spec, gate.status, STATUS_WORDS.get(gate.status, gate.status), headline, gate.reason, tuple(rows),
                    flip_lines(gate), cascade_views(gate, colormap), gate.result.cascade_case if gate.result is not None else "")


def _verdict(results: RunResults) -> tuple[str, bool, str]:
    """The headline: the ledger's verdict in words (decided in the core, never here)."""
    cases = results.cases
    blocking_cases = [case for case in cases if case.status in BLOCKING_STATUSES]
    blocking_gates = [gate for gate in results.gates if gate.status in BLOCKING_STATUSES]
    expected = sum(1 for case in cases if case.status == "xfailed")
    expected_text = f" {plural(expected, 'expected failure')} (known problems) do not block the release." if expected else ""
    scope = [f"{len(blocking_cases)} of {plural(len(cases), 'case')}"]
    if results.gates:
        scope.append(f"{len(blocking_gates)} of {plural(len(results.gates), 'gate')}")
    if results.verdict == "incomplete":
        unfinished = results.unfinished
        detail = ("Not every planned case and gate finished or compared, so this audit cannot pass: " + "; ".join(results.incomplete_reasons)
                  + f". {len(blocking_cases) + len(blocking_gates)} of those that finished block the release.")
        if not unfinished:  # every entry finished; the comparison with the baseline compared nothing
            return "Release gate INCOMPLETE: no case was compared with the baseline", False, detail
        return f"Release gate INCOMPLETE: {len(unfinished)} of {plural(len(results.entries), 'planned check')} did not run", False, detail
    if results.verdict == "failed":
        detail = "Failing cases are listed first below; each says in words what went wrong." + expected_text
        return "Release gate FAILED: " + ", ".join(scope), False, detail
    selected = [entry for entry in results.entries if entry.status != "not_run"]
    gates = f" and {plural(len(results.gates), 'gate')}" if results.gates else ""
    detail = "Every case looked where it should." if not expected else expected_text.strip()
    if len(selected) < len(results.entries):
        detail += f" {len(results.entries) - len(selected)} planned entries were not selected for this run (-k, -m, node ids or a shard)."
    return f"Release gate PASSED: {plural(len(cases), 'case')}{gates}", True, detail


def _models(cases: tuple[CaseEntry, ...]) -> tuple[ModelView, ...]:
    grouped: dict[str, list[CaseResult]] = {}
    for case in cases:
        if case.result is not None and case.result.model:
            grouped.setdefault(case.result.model, []).append(case.result)
    views = []
    for path, group in sorted(grouped.items()):
        layers = sorted({f"{result.layer} — {result.layer_reason}" if result.layer_reason else result.layer for result in group if result.layer})
        views.append(
            ModelView(
                path=path,
                sha256=next((result.model_sha256 for result in group if result.model_sha256), "") or "—",
                layers="; ".join(layers) or "—",
                methods=", ".join(sorted({result.method for result in group})),
                score="; ".join(sorted({result.score_kind for result in group if result.score_kind})) or "—",
                preprocess=", ".join(sorted({result.preprocess for result in group if result.preprocess})) or "—",
                # Results from before resize_filter existed were fitted bilinearly.
                resize=", ".join(sorted({f"{result.resize} ({result.resize_filter or 'bilinear'} filter)" for result in group
                                         if result.resize})) or "—",
            )
        )
    return tuple(views)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _option_label(name: str, shown: int, total: int) -> str:
    return f"{name} ({total})" if shown == total else f"{name} ({shown:,} shown of {total:,})"


def _counts_text(counter: Counter[str]) -> str:
    return ", ".join(plural(counter[status], *COUNT_WORDS[status]) for status in STATUS_ORDER if counter.get(status))


def build_report_view(results: RunResults, charts: dict[str, str] | None = None, *, attention_limit: int = 20,
                      shown: Callable[[CaseEntry], bool] | None = None) -> ReportView:
    """The whole report's content; ``charts`` maps suite name → chart image (data URI or path).

    ``shown``: which cases get a full view (rendering/sampling.py, for huge runs); counts and verdict use every case.
    """
    ordered = sorted(results.cases, key=lambda case: (STATUS_ORDER.index(case.status) if case.status in STATUS_ORDER else 0, case.spec, case.id, case.method))
    methods_per_suite: dict[str, set[str]] = {}
    for case in results.cases:
        methods_per_suite.setdefault(case.spec, set()).add(case.method)
    # Anchors keep each case's place in the full order, so links to a shown case are the same sampled or not.
    case_views = tuple(_case_view(case, index, len(methods_per_suite.get(case.spec, ())) > 1) for index, case in enumerate(ordered)
                       if shown is None or shown(case))
    counts = Counter(case.status for case in results.cases)
    verdict, ok, detail = _verdict(results)
    gates = {gate.spec: gate for gate in results.gates}
    suite_names = tuple(sorted({case.spec for case in results.cases} | set(gates)))
    suites = []
    for number, name in enumerate(suite_names):
        suite_counts = Counter(case.status for case in results.cases if case.spec == name)
        suites.append(SuiteView(
            name=name,
            anchor=f"suite-{number}",
            counts=_counts_text(suite_counts) or "no cases",
            gate=_gate_view(gates[name], results.colormap or "jet") if name in gates else None,
            chart=(charts or {}).get(name, ""),
            chart_alt=f"Per class in {name}: attention share and lift of the required regions, and the share of cases that passed",
            outside=outside_view(gates.get(name), [case for case in results.cases if case.spec == name]),
        ))
    started = results.started
    try:
        started = datetime.fromisoformat(results.started).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        pass
    blocking = [case for case in case_views if case.blocking]
    suite_counts_all = Counter(case.spec for case in results.cases)
    tag_counts = Counter(tag for case in results.cases for tag in set(case.tags))
    # A filter's label counts what choosing it shows, and says so when a sampled report shows fewer than the run has.
    shown_statuses = Counter(view.status for view in case_views)
    shown_suites = Counter(view.suite for view in case_views)
    shown_tags = Counter(tag for case in results.cases if shown is None or shown(case) for tag in set(case.tags))
    return ReportView(
        title="Grad-CAM audit report",
        verdict=verdict,
        verdict_ok=ok,
        verdict_detail=detail,
        counts=tuple((status, counts[status], COUNT_WORDS[status][counts[status] != 1]) for status in STATUS_ORDER if counts.get(status)),
        started=started or "—",
        duration=_duration(results.duration_s),
        command=results.command or "—",
        versions=tuple(sorted(results.versions.items())),
        models=_models(results.cases),
        suites=tuple(suites),
        cases=case_views,
        attention=tuple(AttentionItemView(case.anchor, f"{case.suite} · {case.case_id}", case.status_words, case.headline)
                        for case in blocking[:attention_limit]),
        attention_more=max(0, len(blocking) - attention_limit),
        status_options=tuple((status, _option_label(STATUS_WORDS[status], shown_statuses[status], counts[status]))
                             for status in STATUS_ORDER if counts.get(status)),
        suite_options=tuple((name, _option_label(name, shown_suites[name], suite_counts_all[name])) for name in suite_names),
        tag_options=tuple((tag, _option_label(tag, shown_tags[tag], tag_counts[tag])) for tag in sorted(tag_counts)),
        glossary=glossary(results.colormap),
        total_cases=len(case_views),
        scope=f"{plural(len(results.cases), 'case')} in {plural(len(suites), 'suite')}",
        notes=tuple((*results.incomplete_reasons, *results.notes)),
        unfinished=tuple(f"{entry.spec} · {getattr(entry, 'id', 'gate')}: {entry.reason}" for entry in results.unfinished[:attention_limit]),
        # Links only to cases shown in full: a sampled report's other cases are in results.json alone.
        comparison=build_comparison_view(results, {case.key: f"case-{index}" for index, case in enumerate(ordered)
                                                   if shown is None or shown(case)}),
    )
