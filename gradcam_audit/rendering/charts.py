"""Per-suite chart (matplotlib, inlined as SVG data URIs): lift of the required regions per class, and pass rate."""

from __future__ import annotations

import base64
import io

from gradcam_audit.core.results import RunResults


def suite_charts(results: RunResults) -> dict[str, str]:
    """suite name → data URI of an SVG chart; suites with no scored region get none."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    charts: dict[str, str] = {}
    for suite in sorted({case.spec for case in results.cases}):
        cases = [case for case in results.cases if case.spec == suite and case.regions]
        if not cases:
            continue
        by_class: dict[str, list[float]] = {}
        passed: dict[str, list[bool]] = {}
        for case in cases:
            label = (case.target.label or str(case.target.index)) if case.target else "?"
            lifts = [region.lift for region in case.regions if region.role == "required"]
            by_class.setdefault(label, []).extend(lifts)
            passed.setdefault(label, []).append(case.status in ("passed", "xpassed"))
        labels = sorted(by_class)
        figure = Figure(figsize=(6.4, 2.4), dpi=100)
        lift_axes, rate_axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
        data = [by_class[label] or [0.0] for label in labels]
        lift_axes.boxplot(data, tick_labels=labels, orientation="horizontal")
        lift_axes.axvline(1.0, color="grey", linestyle=":", linewidth=1)
        lift_axes.set_xlabel("lift of required regions (1 = chance)")
        rates = [sum(passed[label]) / len(passed[label]) for label in labels]
        rate_axes.barh(labels, rates, color=["#2e7d32" if rate >= 0.999 else "#c62828" for rate in rates])
        rate_axes.set_xlim(0, 1)
        rate_axes.set_xlabel("pass rate")
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
        charts[suite] = "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue().encode("utf-8")).decode("ascii")
    return charts
