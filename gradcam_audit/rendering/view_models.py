"""View models: every value the report and the Markdown summary show, computed from results alone."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from gradcam_audit.core.results import CaseResult, ClassInfo, GateResult, RunResults
from gradcam_audit.core.scoring import RegionScore

# Order in which cases are listed: what needs attention first.
STATUS_ORDER = ("failed", "error", "xpassed", "xfailed", "skipped", "passed")
STATUS_WORDS = {
    "passed": "passed",
    "failed": "FAILED",
    "error": "ERROR",
    "xfailed": "expected failure",
    "xpassed": "UNEXPECTEDLY PASSED",
    "skipped": "skipped",
}
# How a count reads: (one, many).
COUNT_WORDS = {
    "passed": ("passed", "passed"),
    "failed": ("failed", "failed"),
    "error": ("error", "errors"),
    "xfailed": ("expected failure", "expected failures"),
    "xpassed": ("unexpectedly passed", "unexpectedly passed"),
    "skipped": ("skipped", "skipped"),
}
BLOCKING_STATUSES = ("failed", "error", "xpassed")
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


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def percent(share: float) -> str:
    """0.146 → '14.6%', 0.5 → '50%', 0.004 → '0.4%'."""
    value = share * 100.0
    if 0 < value < 0.1:
        return "under 0.1%"
    text = f"{value:.1f}".rstrip("0").rstrip(".") if abs(value) < 99.95 else f"{value:.0f}"
    return f"{text}%"


def _times(lift: float) -> str:
    return f"{lift:.1f}×" if lift >= 0.095 or lift == 0 else f"{lift:.2f}×"


def _limit(share: float) -> str:
    return f"{share * 100:g}%"


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
    rows: list[RowView] = []

    def add(metric: str, value: str, threshold: str, chance: str, ok: bool | None) -> None:
        verdict, state = ("measured only", "info") if ok is None else (("pass", "ok") if ok else ("FAIL", "fail"))
        rows.append(RowView(region.name, region.role, ROLE_WORDS.get(region.role, region.role), metric, value, threshold, chance, verdict, state))

    chance = percent(region.area_share)
    if region.min_mass is not None:
        add("attention share", percent(region.mass), f"≥ {_limit(region.min_mass)}", chance, region.mass >= region.min_mass)
    if region.max_mass is not None:
        add("attention share", percent(region.mass), f"≤ {_limit(region.max_mass)}", chance, region.mass <= region.max_mass)
    if region.min_lift is not None:
        add("lift over chance", f"{region.lift:.2f}×", f"≥ {region.min_lift:g}×", "1×", region.lift >= region.min_lift)
    if region.peak_inside is not None:
        add("hottest point inside", "yes" if region.peak_inside else "no", "yes", "—", region.peak_inside)
    if region.iou is not None and region.min_iou is not None:
        add("overlap with hot area (IoU)", percent(region.iou), f"≥ {_limit(region.min_iou)}", "—", region.iou >= region.min_iou)
    if not rows:
        add("attention share", percent(region.mass), "—", chance, None if region.passed else False)
    return rows


def _region_findings(region: RegionScore) -> list[str]:
    """Each missed threshold of a region as a plain sentence fragment."""
    name = f"“{region.name}”"
    findings: list[str] = []
    if region.area_share == 0:
        findings.append(f"{name} lies outside the picture (it covers no pixel)")
    if region.min_mass is not None and region.mass < region.min_mass:
        findings.append(f"only {percent(region.mass)} of the attention fell on {name} (at least {_limit(region.min_mass)} required)")
    if region.max_mass is not None and region.mass > region.max_mass:
        where = "the forbidden region " if region.role == "forbidden" else ""
        findings.append(f"{percent(region.mass)} of the attention fell on {where}{name} (at most {_limit(region.max_mass)} allowed)")
    if region.min_lift is not None and region.lift < region.min_lift:
        findings.append(f"{name} got {_times(region.lift)} the attention its size alone explains (at least {region.min_lift:g}× required)")
    if region.peak_inside is False:
        findings.append(f"the heatmap's hottest point is outside {name}")
    if region.iou is not None and region.min_iou is not None and region.iou < region.min_iou:
        findings.append(f"the heatmap's hot area overlaps {name} by only {percent(region.iou)} (at least {_limit(region.min_iou)} required)")
    return findings


def _sentence(parts: list[str], *, capital: bool = True) -> str:
    text = "; ".join(part for part in parts if part)
    if not text:
        return ""
    return (text[:1].upper() if capital else text[:1]) + text[1:] + ("" if text.endswith(".") else ".")


def _wrong_prediction(case: CaseResult) -> str:
    if case.expect_class is not None and case.predicted is not None and case.predicted.index != case.expect_class.index:
        return f"the model predicted “{case.predicted.name}”, but the expected class is “{case.expect_class.name}”"
    return ""


def _class_note(case: CaseResult) -> str:
    notes = [_wrong_prediction(case)]
    if case.target is not None and case.predicted is not None and case.target.index != case.predicted.index:
        notes.append(f"the heatmap explains “{case.target.name}”, which is not the class the model predicted")
    return _sentence(notes)


def _headline(case: CaseResult, findings: list[str]) -> str:
    """The case's story in one sentence a non-engineer can act on."""
    problems = [_wrong_prediction(case), *findings]
    if case.status == "passed":
        return "Met every threshold: the model looked where it should and not where it must not."
    if case.status == "skipped":
        return f"Not run: {_sentence([case.reason], capital=False)}" if case.reason else "Not run."
    if case.status == "xpassed":
        return ("Expected to fail, but met every threshold: if the known problem is fixed, remove the expected-failure mark "
                "from the spec; until then this blocks the release.")
    prefix = {"failed": "Failed", "xfailed": "Failed, as expected", "error": "Could not be checked"}.get(case.status, case.status)
    if case.degenerate:
        return f"{prefix}: no usable heatmap — {case.degenerate}."
    if case.status == "error" or not any(problems):
        return f"{prefix}: {case.reason or 'no reason was recorded'}" + ("" if (case.reason or "").endswith(".") else ".")
    return f"{prefix}: " + _sentence(problems, capital=False)


def _pictures_note(case: CaseResult) -> str:
    if "overlay" in case.images:
        return ""
    if case.degenerate:
        return "No heatmap overlay: the heatmap is degenerate (see above), so there is nothing to draw."
    if case.status in ("error", "skipped") and not case.images:
        return "No pictures: the case did not run far enough to produce any."
    if not case.images:
        return "No pictures were written for this case (report written without images, or the image could not be read)."
    return "No heatmap overlay was produced for this case."


def _case_view(case: CaseResult, index: int) -> CaseView:
    rows = tuple(row for region in case.regions for row in _region_rows(region))
    findings = [finding for region in case.regions for finding in _region_findings(region)]
    class_note = _class_note(case)
    notes = [
        f"{percent(region.unseen_share)} of “{region.name}” is cropped away before the model sees the picture"
        for region in case.regions if region.unseen_share > 0
    ]
    required_masses = [region.mass for region in case.regions if region.role == "required"]
    return CaseView(
        anchor=f"case-{index}",
        suite=case.spec,
        case_id=case.id,
        method=case.method,
        status=case.status,
        status_words=STATUS_WORDS.get(case.status, case.status),
        blocking=case.status in BLOCKING_STATUSES,
        headline=_headline(case, findings),
        findings=tuple(_sentence([finding]) for finding in findings),
        notes=tuple(_sentence([note]) for note in notes),
        reason=case.reason,
        degenerate=case.degenerate or "",
        xfail=case.xfail or "",
        tags=case.tags,
        tags_json=json.dumps(list(case.tags), ensure_ascii=False),
        predicted=_class_text(case.predicted),
        target=_class_text(case.target),
        expected=_class_text(case.expect_class) if case.expect_class else "",
        class_note=class_note,
        layer=case.layer or "—",
        image_path=case.image or "",
        rows=rows,
        images=dict(case.images),
        pictures_note=_pictures_note(case),
        nodeid=case.nodeid or f"{case.spec}::{case.id}",
        sort_mass=f"{min(required_masses):.6f}" if required_masses else "",
    )


def _gate_row(metric: str, value: float | None, threshold: float | None, as_percent: bool) -> GateRowView:
    def show(number: float) -> str:
        return percent(number) if as_percent else f"{number:.2f}×"

    value_text = "—" if value is None else show(value)
    if threshold is None:
        return GateRowView(metric, value_text, "not gated", "for information", "info")
    limit = _limit(threshold) if as_percent else f"{threshold:g}×"
    ok = value is not None and value >= threshold
    return GateRowView(metric, value_text, f"≥ {limit}", "pass" if ok else "FAIL", "ok" if ok else "fail")


def _gate_view(gate: GateResult) -> GateView:
    rows = [
        _gate_row("cases that passed (pass rate)", gate.pass_rate, gate.min_pass_rate, True),
        _gate_row("average attention share on required regions", gate.mean_mass, gate.min_mean_mass, True),
        _gate_row("average lift of required regions", gate.mean_lift, gate.min_mean_lift, False),
    ]
    for label, numbers in gate.per_class.items():
        for key, metric, threshold, as_percent in (
            ("pass_rate", "pass rate", gate.min_pass_rate, True),
            ("mean_mass", "average attention share", gate.min_mean_mass, True),
            ("mean_lift", "average lift", gate.min_mean_lift, False),
        ):
            if threshold is not None:
                rows.append(_gate_row(f"class “{label}”: {metric}", numbers.get(key), threshold, as_percent))
    misses = [row.metric for row in rows if row.state == "fail"]
    counted = f" over {plural(gate.cases_counted, 'case')}" if gate.cases_counted else ""
    if gate.status == "passed":
        headline = f"Gate passed{counted}: every suite-level threshold is met."
    elif gate.status == "xfailed":
        headline = f"Gate failed{counted}, as expected (known problem): " + ", ".join(misses) + " below threshold." if misses \
            else f"Gate failed{counted}, as expected (known problem)."
    elif gate.status == "xpassed":
        headline = f"Gate was expected to fail but passed{counted}: remove the expected-failure mark if the problem is fixed."
    elif misses:
        headline = f"Gate FAILED{counted}: " + ", ".join(misses) + " below threshold."
    else:
        headline = f"Gate {STATUS_WORDS.get(gate.status, gate.status)}{counted}."
    return GateView(gate.spec, gate.status, STATUS_WORDS.get(gate.status, gate.status), headline, gate.reason, tuple(rows))


def _verdict(results: RunResults) -> tuple[str, bool, str]:
    cases = results.cases
    blocking = [case for case in cases if case.status in BLOCKING_STATUSES]
    failed_gates = [gate for gate in results.gates if gate.status in BLOCKING_STATUSES]
    expected = sum(1 for case in cases if case.status == "xfailed")
    expected_text = f" {plural(expected, 'expected failure')} (known problems) do not block the release." if expected else ""
    if blocking or failed_gates:
        parts = [f"{len(blocking)} of {plural(len(cases), 'case')}"]
        if results.gates:
            parts.append(f"{len(failed_gates)} of {plural(len(results.gates), 'gate')}")
        detail = "Failing cases are listed first below; each says in words what went wrong." + expected_text
        return "Release gate FAILED: " + ", ".join(parts), False, detail
    gates = f" and {plural(len(results.gates), 'gate')}" if results.gates else ""
    detail = "Every case looked where it should." if not expected else expected_text.strip()
    return f"Release gate PASSED: {plural(len(cases), 'case')}{gates}", True, detail


def _models(cases: tuple[CaseResult, ...]) -> tuple[ModelView, ...]:
    grouped: dict[str, list[CaseResult]] = {}
    for case in cases:
        if case.model:
            grouped.setdefault(case.model, []).append(case)
    views = []
    for path, group in sorted(grouped.items()):
        layers = sorted({f"{case.layer} — {case.layer_reason}" if case.layer_reason else case.layer for case in group if case.layer})
        views.append(
            ModelView(
                path=path,
                sha256=next((case.model_sha256 for case in group if case.model_sha256), "") or "—",
                layers="; ".join(layers) or "—",
                methods=", ".join(sorted({case.method for case in group})),
                score="; ".join(sorted({case.score_kind for case in group if case.score_kind})) or "—",
                preprocess=", ".join(sorted({case.preprocess for case in group if case.preprocess})) or "—",
                resize=", ".join(sorted({case.resize for case in group if case.resize})) or "—",
            )
        )
    return tuple(views)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _counts_text(counter: Counter[str]) -> str:
    return ", ".join(plural(counter[status], *COUNT_WORDS[status]) for status in STATUS_ORDER if counter.get(status))


def build_report_view(results: RunResults, charts: dict[str, str] | None = None, *, attention_limit: int = 20) -> ReportView:
    """The whole report's content; ``charts`` maps suite name → chart image (data URI or path)."""
    ordered = sorted(results.cases, key=lambda case: (STATUS_ORDER.index(case.status) if case.status in STATUS_ORDER else 0, case.spec, case.id, case.method))
    case_views = tuple(_case_view(case, index) for index, case in enumerate(ordered))
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
            gate=_gate_view(gates[name]) if name in gates else None,
            chart=(charts or {}).get(name, ""),
            chart_alt=f"Per class in {name}: attention share and lift of the required regions, and the share of cases that passed",
        ))
    started = results.started
    try:
        started = datetime.fromisoformat(results.started).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        pass
    blocking = [case for case in case_views if case.blocking]
    suite_counts_all = Counter(case.spec for case in results.cases)
    tag_counts = Counter(tag for case in results.cases for tag in set(case.tags))
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
        status_options=tuple((status, f"{STATUS_WORDS[status]} ({counts[status]})") for status in STATUS_ORDER if counts.get(status)),
        suite_options=tuple((name, f"{name} ({suite_counts_all[name]})") for name in suite_names),
        tag_options=tuple((tag, f"{tag} ({tag_counts[tag]})") for tag in sorted(tag_counts)),
        glossary=GLOSSARY,
        total_cases=len(case_views),
    )
