"""How a check record reads: its metric's name, value and limit in words, for the terminal and the report.

Formatting only: whether a check passed is the record's `passed`, decided in the core.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradcam_audit.core.checks import Check, CheckValue
from gradcam_audit.core.scoring import RegionScore


@dataclass(frozen=True)
class MetricWords:
    label: str  # what the report calls it
    kind: str  # "share" (a fraction shown as %), "times" (a ratio ×), "yes_no", "text"


# Metrics not listed read with their own name and a plain number, so a new metric shows without changes here.
METRIC_WORDS: dict[str, MetricWords] = {
    # Regression checks against a baseline run (core/baseline.py).
    "still_passes": MetricWords("still passes, as in the baseline", "yes_no"),
    "mass_rise": MetricWords("rise in attention share since the baseline", "share"),
    "lift_drop": MetricWords("fall in lift since the baseline", "share"),
    "heatmap_similarity": MetricWords("heatmap similarity with the baseline (Spearman)", "number"),
    "mass": MetricWords("attention share", "share"),
    "lift": MetricWords("lift over chance", "times"),
    "peak_inside": MetricWords("hottest point inside", "yes_no"),
    "iou": MetricWords("overlap with hot area (IoU)", "share"),
    "covers_pixels": MetricWords("region covers pixels of the image", "yes_no"),
    "visible": MetricWords("region visible to the model", "yes_no"),
    "predicted_class": MetricWords("predicted class", "text"),
    "pass_rate": MetricWords("cases that passed (pass rate)", "share"),
    "mean_mass": MetricWords("average attention share on required regions", "share"),
    "mean_lift": MetricWords("average lift of required regions", "times"),
    "effect": MetricWords("drop in the class's probability when removed (effect)", "share"),
    "transplant_flip_rate": MetricWords("transplants that flipped the prediction", "share"),
    "transplant_pairs": MetricWords("transplant pairs tried", "count"),
    "randomization_similarity": MetricWords("heatmap similarity to a weight-randomised model (Spearman)", "number"),
    "deletion_auc": MetricWords("probability left as the hottest pixels are deleted (deletion AUC)", "number"),
    "insertion_auc": MetricWords("probability regained as the hottest pixels are inserted (insertion AUC)", "number"),
}

_SYMBOLS = {">=": "≥", "<=": "≤", "==": "="}
_PLAIN_SYMBOLS = {">=": ">=", "<=": "<=", "==": "=="}


def words_for(metric: str) -> MetricWords:
    return METRIC_WORDS.get(metric, MetricWords(metric.replace("_", " "), "number"))


def percent(share: float) -> str:
    """0.146 → '14.6%', 0.5 → '50%', 0.004 → '0.4%'."""
    value = share * 100.0
    if 0 < value < 0.1:
        return "under 0.1%"
    text = f"{value:.1f}".rstrip("0").rstrip(".") if abs(value) < 99.95 else f"{value:.0f}"
    return f"{text}%"


def _show(value: CheckValue, kind: str, plain: bool, *, is_limit: bool = False) -> str:
    if value is None:
        return "—" if not plain else "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if kind == "share":
        if plain:
            return f"{value:g}" if is_limit else f"{value:.3f}"
        return f"{value * 100:g}%" if is_limit else percent(value)
    if kind == "times":
        if is_limit:
            return f"{value:g}" if plain else f"{value:g}×"
        return f"{value:.2f}" if plain else f"{value:.2f}×"
    if kind == "count":
        return f"{value:g}"
    return f"{value:g}" if is_limit else f"{value:.3f}"


def value_text(check: Check, *, plain: bool = False) -> str:
    return _show(check.value, words_for(check.metric).kind, plain)


def limit_words(check: Check, *, plain: bool = False) -> str:
    """The threshold as a reader sees it: "≥ 50%", "≤ 0.05", "yes"."""
    kind = words_for(check.metric).kind
    if check.comparison == "==":
        return _show(check.limit, kind, plain, is_limit=True)
    symbol = (_PLAIN_SYMBOLS if plain else _SYMBOLS)[check.comparison]
    return f"{symbol} {_show(check.limit, kind, plain, is_limit=True)}"


def chance_text(check: Check, region: RegionScore | None, *, plain: bool = False) -> str:
    """What a model that looked everywhere equally would score on this metric, where that is meaningful."""
    if region is None:
        return "-" if plain else "—"
    if check.metric == "mass":
        return f"{region.area_share:.3f}" if plain else percent(region.area_share)
    if check.metric == "lift":
        return "1.00" if plain else "1×"
    return "-" if plain else "—"


def _times(lift: float) -> str:
    return f"{lift:.1f}×" if lift >= 0.095 or lift == 0 else f"{lift:.2f}×"


def finding_words(check: Check, region: RegionScore | None = None) -> str:
    """A missed check as a plain sentence fragment a non-engineer can act on."""
    name = f"“{check.subject}”"
    value = check.value
    limit = limit_words(check)
    if value is None:
        return f"{words_for(check.metric).label} of {name} could not be computed (needs {limit})"
    if check.metric == "covers_pixels":
        return f"{name} lies outside the picture (it covers no pixel)"
    if check.metric == "visible":
        return f"{name} is cut away before the model sees the picture (resize mode), so the model cannot look there"
    if check.metric == "predicted_class":
        return f"the model predicted “{value}”, but the expected class is “{check.limit}”"
    if isinstance(value, float) and isinstance(check.limit, float):
        if check.threshold_key == "min_mass":
            return f"only {percent(value)} of the attention fell on {name} (at least {check.limit * 100:g}% required)"
        if check.threshold_key == "max_mass":
            where = "the forbidden region " if region is not None and region.role == "forbidden" else ""
            return f"{percent(value)} of the attention fell on {where}{name} (at most {check.limit * 100:g}% allowed)"
        if check.threshold_key == "min_lift":
            return f"{name} got {_times(value)} the attention its size alone explains (at least {check.limit:g}× required)"
        if check.threshold_key == "max_effect":
            return f"removing {name} lowers the class's probability by {percent(value)} (at most {check.limit * 100:g}% allowed): the model relies on it"
        if check.threshold_key == "min_effect":
            return f"removing {name} lowers the class's probability by only {percent(value)} (at least {check.limit * 100:g}% required)"
        if check.threshold_key == "min_iou":
            return f"the heatmap's hot area overlaps {name} by only {percent(value)} (at least {check.limit * 100:g}% required)"
    if check.metric == "peak_inside":
        return f"the heatmap's hottest point is outside {name}"
    if check.metric == "deletion_auc":
        return (f"blacking out the heatmap's hottest pixels leaves the class's probability high (deletion AUC {value_text(check)}, "
                f"needs {limit}): the heatmap misses what the model uses")
    if check.metric == "insertion_auc":
        return (f"putting back only the heatmap's hottest pixels does not bring the class back (insertion AUC {value_text(check)}, "
                f"needs {limit})")
    return f"{name}: {words_for(check.metric).label} is {value_text(check)} (needs {limit})"
