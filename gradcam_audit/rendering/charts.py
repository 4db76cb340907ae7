"""Per-suite chart (matplotlib, inlined as SVG data URIs): per class, the attention share and lift of the required
regions as distributions, and the share of cases that passed."""

from __future__ import annotations

import base64
import io
import warnings

from gradcam_audit.core.ledger import CaseEntry, RunResults

MAX_CLASSES = 30  # beyond this a chart is unreadable; the classes with the lowest pass rate are kept


def _class_label(case: CaseEntry) -> str:
    if case.target is None:
        return "unknown class"
    return case.target.label if case.target.label is not None else f"class {case.target.index}"


def _chart(cases: list[CaseEntry]) -> str:
    from matplotlib.figure import Figure

    masses: dict[str, list[float]] = {}
    lifts: dict[str, list[float]] = {}
    passed: dict[str, list[bool]] = {}
    for case in cases:
        label = _class_label(case)
        required = [region for region in case.regions if region.role == "required"]
        masses.setdefault(label, []).extend(region.mass * 100.0 for region in required)
        lifts.setdefault(label, []).extend(region.lift for region in required)
        passed.setdefault(label, []).append(case.status in ("passed", "xpassed"))
    rates = {label: sum(flags) / len(flags) for label, flags in passed.items()}
    labels = sorted(rates, key=lambda label: (rates[label], label))[:MAX_CLASSES]
    labels.reverse()  # barh draws bottom-up: the weakest class ends up on top
    figure = Figure(figsize=(10.0, 1.3 + 0.32 * len(labels)), dpi=100)
    mass_axes, lift_axes, rate_axes = figure.subplots(1, 3, sharey=True, gridspec_kw={"width_ratios": [3, 3, 2]})
    positions = list(range(1, len(labels) + 1))
    box_style = {"widths": 0.55, "orientation": "horizontal", "patch_artist": True, "showfliers": True,
                 "medianprops": {"color": "#202124", "linewidth": 1.5},
                 "boxprops": {"facecolor": "#bbdefb", "edgecolor": "#1565c0"},
                 "flierprops": {"marker": "o", "markersize": 3, "markerfacecolor": "#1565c0", "markeredgecolor": "none"}}
    for axes, data, title in (
        (mass_axes, masses, "attention share on required regions (%)"),
        (lift_axes, lifts, "lift over chance (1× = chance)"),
    ):
        values = [data[label] for label in labels]
        present = [(position, value) for position, value in zip(positions, values) if value]
        if present:
            axes.boxplot([value for _, value in present], positions=[position for position, _ in present], **box_style)
        axes.set_title(title, fontsize=10, loc="left")
        axes.grid(axis="x", color="#e0e0e0", linewidth=0.6)
        axes.set_axisbelow(True)
    mass_axes.set_xlim(left=0)
    lift_axes.axvline(1.0, color="#c62828", linestyle=":", linewidth=1.2)
    lift_axes.set_xlim(left=0)
    bar_rates = [rates[label] for label in labels]
    rate_axes.barh(positions, bar_rates, height=0.55, color=["#2e7d32" if rate >= 0.999 else "#c62828" for rate in bar_rates])
    for position, label in zip(positions, labels):
        flags = passed[label]
        rate_axes.text(1.02, position, f"{rates[label]:.0%} ({sum(flags)} of {len(flags)})", va="center", fontsize=8.5)
    rate_axes.set_xlim(0, 1)
    rate_axes.set_xticks([0, 0.5, 1.0], ["0%", "50%", "100%"])
    rate_axes.set_title("cases passed", fontsize=10, loc="left")
    mass_axes.set_yticks(positions, labels)
    for axes in (mass_axes, lift_axes, rate_axes):
        axes.tick_params(labelsize=9)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
    figure.subplots_adjust(left=0.14, right=0.88, wspace=0.12, top=1 - 0.45 / figure.get_figheight(), bottom=0.38 / figure.get_figheight())
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue().encode("utf-8")).decode("ascii")


def suite_charts(results: RunResults) -> dict[str, str]:
    """suite name → data URI of an SVG chart; suites with no scored region get none."""
    import matplotlib

    matplotlib.use("Agg")
    charts: dict[str, str] = {}
    # Text stays text (smaller files, readable by screen readers); fixed hash salt keeps the SVG reproducible.
    # Class names are the user's data, never mathtext: a label like "$\notacommand$" would otherwise abort the run.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "gradcam_audit", "text.parse_math": False,
                                "text.usetex": False}), warnings.catch_warnings():
        # Class names in scripts the layout font lacks (猫, …) only get approximate widths; the browser draws them.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        for suite in sorted({case.spec for case in results.cases}):
            cases = [case for case in results.cases if case.spec == suite and case.regions]
            if cases:
                charts[suite] = _chart(cases)
    return charts
