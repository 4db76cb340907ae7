"""How a check record reads: its metric's name, value and limit in words, for the terminal and the report.

Formatting only: whether a check passed is the record's `passed`, decided in the core. A region metric's words
(label, how its values read, the sentence for a miss) are declared by its class in core/evaluate/metrics.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradcam_audit.core.records.checks import Check, CheckValue
from gradcam_audit.core.evaluate.metrics import REGION_METRICS
from gradcam_audit.core.evaluate.metrics import percent as percent  # re-exported: the renderers format shares with it
from gradcam_audit.core.records.regions import RegionScore


@dataclass(frozen=True)
class MetricWords:
    label: str  # what the report calls it
    kind: str  # "share" (a fraction shown as %), "times" (a ratio ×), "yes_no", "text"


# Checks other than region metrics'. Metrics not listed read with their own name and a plain number.
METRIC_WORDS: dict[str, MetricWords] = {
    # Regression checks against a baseline run (core/baseline/compare.py).
    "still_passes": MetricWords("still passes, as in the baseline", "yes_no"),
    "mass_rise": MetricWords("rise in attention share since the baseline", "share"),
    "lift_drop": MetricWords("fall in lift since the baseline", "share"),
    "heatmap_similarity": MetricWords("heatmap similarity with the baseline (Spearman)", "number"),
    "covers_pixels": MetricWords("region covers pixels of the image", "yes_no"),
    "visible": MetricWords("region visible to the model", "yes_no"),
    "predicted_class": MetricWords("predicted class", "text"),
    "pass_rate": MetricWords("cases that passed (pass rate)", "share"),
    "mean_mass": MetricWords("average attention share on required regions", "share"),
    "mean_lift": MetricWords("average lift of required regions", "times"),
    "transplant_flip_rate": MetricWords("transplants that flipped the prediction", "share"),
    "transplant_pairs": MetricWords("transplant pairs tried", "count"),
    "randomization_similarity": MetricWords("heatmap similarity to a weight-randomised model (Spearman)", "number"),
    "deletion_auc": MetricWords("probability left as the hottest pixels are deleted (deletion AUC)", "number"),
    "insertion_auc": MetricWords("probability regained as the hottest pixels are inserted (insertion AUC)", "number"),
}

_SYMBOLS = {">=": "≥", "<=": "≤", "==": "="}
_PLAIN_SYMBOLS = {">=": ">=", "<=": "<=", "==": "=="}


def words_for(metric: str) -> MetricWords:
    if metric in METRIC_WORDS:
        return METRIC_WORDS[metric]
    region_metric = REGION_METRICS.by_metric(metric)
    if region_metric is not None:
        return MetricWords(region_metric.label or metric.replace("_", " "), region_metric.display)
    return MetricWords(metric.replace("_", " "), "number")


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
    region_metric = REGION_METRICS.by_key(check.threshold_key)
    if region_metric is not None and isinstance(value, (float, bool)) and isinstance(check.limit, (float, bool)):
        forbidden = region is not None and region.role == "forbidden"
        sentence = region_metric.finding(name, value, check.limit, forbidden)
        if sentence is not None:
            return sentence
    if check.metric == "deletion_auc":
        return (f"blacking out the heatmap's hottest pixels leaves the class's probability high (deletion AUC {value_text(check)}, "
                f"needs {limit}): the heatmap misses what the model uses")
    if check.metric == "insertion_auc":
        return (f"putting back only the heatmap's hottest pixels does not bring the class back (insertion AUC {value_text(check)}, "
                f"needs {limit})")
    return f"{name}: {words_for(check.metric).label} is {value_text(check)} (needs {limit})"
