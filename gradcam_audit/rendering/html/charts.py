"""Per-suite chart (matplotlib, inlined as SVG data URIs): per class, the attention share and lift of the required
regions as distributions, and the share of cases that passed."""

from __future__ import annotations

import base64
import io
import warnings

from gradcam_audit.core.ledger.class_summary import ClassSummary, class_summaries
from gradcam_audit.core.ledger.run_results import RunResults

MAX_CLASSES = 30  # beyond this a chart is unreadable; the core lists the weakest classes first, and those are kept
# The bar's colour says the class's status as the core decided it (a failed gate, a blocking case), never its rate.
STATUS_COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "incomplete": "#9e9e9e"}


def _chart(classes: tuple[ClassSummary, ...]) -> str:
    from matplotlib.figure import Figure

    shown = list(classes[:MAX_CLASSES])
    shown.reverse()  # barh draws bottom-up: the weakest class ends up on top
    labels = [summary.label for summary in shown]
    figure = Figure(figsize=(10.0, 1.3 + 0.32 * len(labels)), dpi=100)
    mass_axes, lift_axes, rate_axes = figure.subplots(1, 3, sharey=True, gridspec_kw={"width_ratios": [3, 3, 2]})
    positions = list(range(1, len(labels) + 1))
    box_style = {"widths": 0.55, "orientation": "horizontal", "patch_artist": True, "showfliers": True,
                 "medianprops": {"color": "#202124", "linewidth": 1.5},
                 "boxprops": {"facecolor": "#bbdefb", "edgecolor": "#1565c0"},
                 "flierprops": {"marker": "o", "markersize": 3, "markerfacecolor": "#1565c0", "markeredgecolor": "none"}}
    for axes, values, title in (
        (mass_axes, [[mass * 100.0 for mass in summary.masses] for summary in shown], "attention share on required regions (%)"),
        (lift_axes, [list(summary.lifts) for summary in shown], "lift over chance (1× = chance)"),
    ):
        present = [(position, value) for position, value in zip(positions, values) if value]
        if present:
            axes.boxplot([value for _, value in present], positions=[position for position, _ in present], **box_style)
        axes.set_title(title, fontsize=10, loc="left")
        axes.grid(axis="x", color="#e0e0e0", linewidth=0.6)
        axes.set_axisbelow(True)
    mass_axes.set_xlim(left=0)
    lift_axes.axvline(1.0, color="#c62828", linestyle=":", linewidth=1.2)
    lift_axes.set_xlim(left=0)
    bar_rates = [summary.pass_rate or 0.0 for summary in shown]
    rate_axes.barh(positions, bar_rates, height=0.55, color=[STATUS_COLOURS[summary.status] for summary in shown])
    for position, summary in zip(positions, shown):
        rate = "—" if summary.pass_rate is None else f"{summary.pass_rate:.0%}"
        words = "" if summary.status == "passed" else f", {summary.status}"
        rate_axes.text(1.02, position, f"{rate} ({summary.passed} of {summary.counted}{words})", va="center", fontsize=8.5)
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
        for suite in sorted({case.spec for case in results.cases if case.regions}):
            charts[suite] = _chart(class_summaries(results, suite))
    return charts
