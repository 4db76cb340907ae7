"""View models: every value the report and the Markdown summary show, computed from results alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gradcam_audit.core.ledger.entries import BLOCKING_STATUSES, CaseEntry

from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.core.ledger.suite_outcome import suite_outcomes
from gradcam_audit.rendering.views.case_view import (
    COUNT_WORDS,
    ROLE_WORDS,
    STATUS_ORDER,
    STATUS_WORDS,
    CaseView,
    RegionKeyView,
    RowView,
    case_view,
    plural,
    sentence,
)
from gradcam_audit.rendering.views.colour_words import colormap_ends
from gradcam_audit.rendering.views.comparison_view import ComparisonView, build_comparison_view
from gradcam_audit.rendering.views.outside_view import outside_view
from gradcam_audit.rendering.views.suite_view import GateRowView, GateView, SuiteView, gate_view, suite_finding, suite_label

# Re-exported: the report's other modules and tests import every view from here.
__all__ = ["COUNT_WORDS", "ROLE_WORDS", "STATUS_ORDER", "STATUS_WORDS", "CaseView", "GateRowView", "GateView", "RegionKeyView",
           "ReportView", "RowView", "SuiteView", "build_report_view", "glossary", "plural", "sentence"]

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
class ModelView:
    path: str
    sha256: str
    layers: str
    methods: str
    score: str
    preprocess: str
    resize: str


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
    findings: tuple[tuple[str, str], ...] = ()  # (state, sentence): what the audit found, one sentence per suite outcome


def glossary(colormap: str) -> tuple[tuple[str, str], ...]:
    """The glossary, its heatmap entry naming the colours of the colormap the pictures were drawn with."""
    most, least = colormap_ends(colormap)
    heatmap = ("Heatmap", f"Colours laid over the picture show where the model looked when it made its decision "
                          f"({most} = most attention, {least} = least), computed with Grad-CAM.")
    return (heatmap, *GLOSSARY[1:])


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


def _findings(suites: list[SuiteView], specs: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """What the audit found, for the headline: each suite that did not simply pass in a sentence, then those that did."""
    lines = []
    for suite in suites:
        if suite.status not in ("passed", "skipped"):
            state = "fail" if suite.status in BLOCKING_STATUSES or suite.status == "not_run" else "caught"
            lines.append((state, sentence([f"the {suite_label(suite.name, specs)} suite {suite.finding}"])))
    passed = [suite_label(suite.name, specs) for suite in suites if suite.status == "passed"]
    if passed:
        names = ", ".join(passed[:-1]) + (" and " if len(passed) > 1 else "") + passed[-1]
        many = len(passed) > 1
        lines.append(("ok", f"The suite{'s' if many else ''} {names} passed: {'their models' if many else 'its model'} looked where "
                            f"{'they' if many else 'it'} should."))
    return tuple(lines)


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

    ``shown``: which cases get a full view (rendering/views/sampling.py, for huge runs); counts and verdict use every case.
    """
    ordered = sorted(results.cases, key=lambda case: (STATUS_ORDER.index(case.status) if case.status in STATUS_ORDER else 0, case.spec, case.id, case.method))
    methods_per_suite: dict[str, set[str]] = {}
    for case in results.cases:
        methods_per_suite.setdefault(case.spec, set()).add(case.method)
    # Anchors keep each case's place in the full order, so links to a shown case are the same sampled or not.
    case_views = tuple(case_view(case, index, len(methods_per_suite.get(case.spec, ())) > 1) for index, case in enumerate(ordered)
                       if shown is None or shown(case))
    counts = Counter(case.status for case in results.cases)
    verdict, ok, detail = _verdict(results)
    gates = {gate.spec: gate for gate in results.gates}
    outcomes = suite_outcomes(results)
    suite_names = tuple(outcome.spec for outcome in outcomes)
    suites = []
    for number, outcome in enumerate(outcomes):
        name = outcome.spec
        suite_counts = Counter(case.status for case in results.cases if case.spec == name)
        suites.append(SuiteView(
            name=name,
            anchor=f"suite-{number}",
            counts=_counts_text(suite_counts) or "no cases",
            gate=gate_view(gates[name], results.colormap or "jet") if name in gates else None,
            chart=(charts or {}).get(name, ""),
            chart_alt=f"Per class in {name}: attention share and lift of the required regions, and the share of cases that passed",
            outside=outside_view(gates.get(name), [case for case in results.cases if case.spec == name]),
            status=outcome.status,
            status_words=STATUS_WORDS.get(outcome.status, outcome.status),
            finding=suite_finding(outcome),
            known_problem=outcome.known_problem,
        ))
    # Suites needing attention first, in the order the cases are listed.
    suites.sort(key=lambda suite: STATUS_ORDER.index(suite.status) if suite.status in STATUS_ORDER else 0)
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
        findings=_findings(suites, suite_names),
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
