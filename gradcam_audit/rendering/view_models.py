"""View models: every value the report and the Markdown summary show, computed from results alone."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from gradcam_audit.core.results import CaseResult, ClassInfo, GateResult, RunResults
from gradcam_audit.rendering.text_table import region_rows

# Order in which cases are listed: what needs attention first.
STATUS_ORDER = ("failed", "error", "xpassed", "xfailed", "skipped", "passed")
STATUS_WORDS = {
    "passed": "passed",
    "failed": "FAILED",
    "error": "ERROR",
    "xfailed": "expected failure",
    "xpassed": "unexpectedly passed",
    "skipped": "skipped",
}
BLOCKING_STATUSES = ("failed", "error", "xpassed")


@dataclass(frozen=True)
class RowView:
    region: str
    role: str
    metric: str
    value: str
    threshold: str
    chance: str
    verdict: str
    ok: bool


@dataclass(frozen=True)
class CaseView:
    anchor: str
    suite: str
    case_id: str
    method: str
    status: str
    status_words: str
    reason: str
    xfail: str
    tags: tuple[str, ...]
    predicted: str
    target: str
    expected: str
    layer: str
    image_path: str
    rows: tuple[RowView, ...]
    images: dict[str, str]
    nodeid: str


@dataclass(frozen=True)
class GateView:
    suite: str
    status: str
    status_words: str
    reason: str
    rows: tuple[tuple[str, str, str, bool], ...]  # (metric, value, threshold, ok)


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
    counts: str
    gate: GateView | None
    chart: str = ""  # data URI of the per-class chart, if rendered


@dataclass(frozen=True)
class ReportView:
    title: str
    verdict: str
    verdict_ok: bool
    counts: tuple[tuple[str, int], ...]
    started: str
    duration: str
    command: str
    versions: tuple[tuple[str, str], ...]
    models: tuple[ModelView, ...]
    suites: tuple[SuiteView, ...]
    cases: tuple[CaseView, ...]
    statuses: tuple[str, ...]
    tags: tuple[str, ...]
    suite_names: tuple[str, ...]
    extra: dict[str, str] = field(default_factory=dict)


def _class_text(info: ClassInfo | None) -> str:
    if info is None:
        return "—"
    name = info.label if info.label is not None else f"class {info.index}"
    if info.probability is not None:
        return f"{name} (p = {info.probability:.2f})"
    return name


def _case_view(case: CaseResult, index: int) -> CaseView:
    rows = tuple(
        RowView(region=row[0], role=region.role, metric=row[1], value=row[2], threshold=row[3].replace(">=", "≥").replace("<=", "≤"),
                chance=row[4], verdict=row[5], ok=row[5] == "ok")
        for region in case.regions
        for row in region_rows(region)
    )
    return CaseView(
        anchor=f"case-{index}",
        suite=case.spec,
        case_id=case.id,
        method=case.method,
        status=case.status,
        status_words=STATUS_WORDS.get(case.status, case.status),
        reason=case.reason,
        xfail=case.xfail or "",
        tags=case.tags,
        predicted=_class_text(case.predicted),
        target=_class_text(case.target),
        expected=_class_text(case.expect_class) if case.expect_class else "",
        layer=case.layer or "—",
        image_path=case.image or "",
        rows=rows,
        images=dict(case.images),
        nodeid=case.nodeid or f"{case.spec}::{case.id}",
    )


def _gate_view(gate: GateResult) -> GateView:
    rows = []
    for metric, value, threshold in (
        ("pass rate", gate.pass_rate, gate.min_pass_rate),
        ("mean mass (required regions)", gate.mean_mass, gate.min_mean_mass),
        ("mean lift (required regions)", gate.mean_lift, gate.min_mean_lift),
    ):
        if threshold is None and value is None:
            continue
        value_text = "—" if value is None else (f"{value:.0%}" if metric == "pass rate" else f"{value:.3f}")
        threshold_text = "—" if threshold is None else (f"≥ {threshold:.0%}" if metric == "pass rate" else f"≥ {threshold:g}")
        ok = threshold is None or (value is not None and value >= threshold)
        rows.append((metric, value_text, threshold_text, ok))
    for label, numbers in gate.per_class.items():
        rate = numbers.get("pass_rate")
        rows.append((f"pass rate, class {label}", "—" if rate is None else f"{rate:.0%}",
                     "—" if gate.min_pass_rate is None else f"≥ {gate.min_pass_rate:.0%}",
                     gate.min_pass_rate is None or (rate is not None and rate >= gate.min_pass_rate)))
    return GateView(gate.spec, gate.status, STATUS_WORDS.get(gate.status, gate.status), gate.reason, tuple(rows))


def _verdict(results: RunResults) -> tuple[str, bool]:
    cases = results.cases
    blocking = [case for case in cases if case.status in BLOCKING_STATUSES]
    failed_gates = [gate for gate in results.gates if gate.status in BLOCKING_STATUSES]
    gate_text = f", {len(failed_gates)} of {len(results.gates)} gates" if results.gates else ""
    if blocking or failed_gates:
        return f"Release gate FAILED: {len(blocking)} of {len(cases)} cases{gate_text}", False
    expected = sum(1 for case in cases if case.status == "xfailed")
    tail = f" ({expected} expected failures, shown below)" if expected else ""
    gates = f" and {len(results.gates)} gates" if results.gates else ""
    return f"Release gate PASSED: {len(cases)} cases{gates}{tail}", True


def _models(cases: tuple[CaseResult, ...]) -> tuple[ModelView, ...]:
    grouped: dict[str, list[CaseResult]] = {}
    for case in cases:
        if case.model:
            grouped.setdefault(case.model, []).append(case)
    views = []
    for path, group in sorted(grouped.items()):
        layers = sorted({f"{case.layer} — {case.layer_reason}" for case in group if case.layer})
        views.append(
            ModelView(
                path=path,
                sha256=next((case.model_sha256 for case in group if case.model_sha256), "") or "",
                layers="; ".join(layers) or "—",
                methods=", ".join(sorted({case.method for case in group})),
                score="; ".join(sorted({case.score_kind for case in group if case.score_kind})) or "—",
                preprocess=", ".join(sorted({case.preprocess for case in group if case.preprocess})) or "—",
                resize=", ".join(sorted({case.resize for case in group if case.resize})) or "—",
            )
        )
    return tuple(views)


def build_report_view(results: RunResults, charts: dict[str, str] | None = None) -> ReportView:
    """The whole report's content; ``charts`` maps suite name → chart image (data URI or path)."""
    ordered = sorted(results.cases, key=lambda case: (STATUS_ORDER.index(case.status) if case.status in STATUS_ORDER else 0, case.spec, case.id, case.method))
    case_views = tuple(_case_view(case, index) for index, case in enumerate(ordered))
    counts = Counter(case.status for case in results.cases)
    verdict, ok = _verdict(results)
    gates = {gate.spec: gate for gate in results.gates}
    suite_names = tuple(sorted({case.spec for case in results.cases} | set(gates)))
    suites = []
    for name in suite_names:
        suite_counts = Counter(case.status for case in results.cases if case.spec == name)
        counts_text = ", ".join(f"{suite_counts[status]} {STATUS_WORDS[status]}" for status in STATUS_ORDER if suite_counts.get(status))
        suites.append(SuiteView(name, counts_text, _gate_view(gates[name]) if name in gates else None, (charts or {}).get(name, "")))
    started = results.started
    try:
        started = datetime.fromisoformat(results.started).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        pass
    return ReportView(
        title="Grad-CAM audit report",
        verdict=verdict,
        verdict_ok=ok,
        counts=tuple((STATUS_WORDS[status], counts[status]) for status in STATUS_ORDER if counts.get(status)),
        started=started,
        duration=f"{results.duration_s:.1f} s",
        command=results.command,
        versions=tuple(sorted(results.versions.items())),
        models=_models(results.cases),
        suites=tuple(suites),
        cases=case_views,
        statuses=tuple(status for status in STATUS_ORDER if counts.get(status)),
        tags=tuple(sorted({tag for case in results.cases for tag in case.tags})),
        suite_names=suite_names,
    )
