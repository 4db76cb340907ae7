"""The regression rules against a baseline: their names and built-in defaults, a value checked, and the rules in
force for a case (defaults, then the ini, then the spec); the error a baseline that cannot be used raises."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from gradcam_audit.core.records.comparison import CaseRules, RegionRules
from gradcam_audit.errors import GradcamAuditError

if TYPE_CHECKING:
    from gradcam_audit.core.spec.model import Case

# The rules a user can set (spec `baseline:`, ini `gradcam_baseline_rule`), with their built-in defaults.
RULE_DEFAULTS: dict[str, float | bool | None] = {
    "max_mass_rise": 0.02,  # a forbidden region's mass may rise by at most this (absolute)
    "max_lift_drop": 0.25,  # a required region's lift may fall by at most this share of its baseline lift
    "must_still_pass": True,  # a case that passed in the baseline must still pass
    "min_heatmap_similarity": None,  # least Spearman rank correlation of the two heatmaps (off by default)
}
REGION_RULE_KEYS = ("max_mass_rise", "max_lift_drop")
CASE_RULE_KEYS = ("must_still_pass", "min_heatmap_similarity")

class BaselineError(GradcamAuditError, ValueError):
    """A baseline that cannot be used: missing, unreadable, of an unknown schema, or a rule that makes no sense."""


def check_rule(key: str, value: Any, where: str) -> float | bool | None:
    """A rule's value checked: the number kinds in their ranges, ``must_still_pass`` a boolean.

    Raises:
        BaselineError: an unknown key or a value out of range, naming ``where`` it was set.
    """
    if key not in RULE_DEFAULTS:
        raise BaselineError(f"{where}: unknown baseline rule {key!r}; the rules are {', '.join(RULE_DEFAULTS)}")
    if key == "must_still_pass":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
        raise BaselineError(f"{where}: must_still_pass must be true or false, got {value!r}")
    if key == "min_heatmap_similarity" and (value is None or str(value).strip().lower() in ("none", "off")):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    low, high = (-1.0, 1.0) if key == "min_heatmap_similarity" else (0.0, math.inf)
    if not (math.isfinite(number) and low <= number <= high):
        expected = "a number between -1 and 1" if key == "min_heatmap_similarity" else "a finite number ≥ 0"
        raise BaselineError(f"{where}: {key} must be {expected}, got {value!r}")
    return number


def parse_rule_settings(items: Iterable[str], where: str = "gradcam_baseline_rule") -> dict[str, float | bool | None]:
    """``["max_mass_rise=0.05", ...]`` (the ini's or the command line's) as checked values."""
    rules: dict[str, float | bool | None] = {}
    for item in items:
        key, separator, value = str(item).partition("=")
        if not separator:
            raise BaselineError(f"{where} {item!r}: expected KEY=VALUE, e.g. max_mass_rise=0.05")
        rules[key.strip()] = check_rule(key.strip(), value.strip(), f"{where} {item!r}")
    return rules


def resolve_rules(settings: Mapping[str, Any], case_values: Iterable[tuple[str, Any]],
                  regions: Iterable[tuple[str, Iterable[tuple[str, Any]]]]) -> CaseRules:
    """The rules in force: built-in defaults, then ``settings`` (ini), then the spec's (already inherited) values."""
    merged: dict[str, Any] = {**RULE_DEFAULTS, **settings}
    case_level = {**merged, **dict(case_values)}
    region_rules = []
    for name, values in regions:
        own = {**merged, **{key: value for key, value in dict(case_level).items() if key in REGION_RULE_KEYS}, **dict(values)}
        region_rules.append((name, RegionRules(float(own["max_mass_rise"]), float(own["max_lift_drop"]))))
    similarity = case_level["min_heatmap_similarity"]
    return CaseRules(bool(case_level["must_still_pass"]), None if similarity is None else float(similarity), tuple(region_rules))


def case_rules(case: Case, settings: Mapping[str, Any]) -> CaseRules:
    """The rules of a spec's case (its `baseline:` values already inherit `defaults:`; a region's inherit the case's)."""
    return resolve_rules(settings, case.baseline, ((region.name, region.baseline) for region in case.regions))


def override_rules(rules: CaseRules, settings: Mapping[str, Any]) -> CaseRules:
    """``rules`` with every value ``settings`` names replaced (in the case and in each of its regions)."""
    if not settings:
        return rules
    case_values = {"must_still_pass": rules.must_still_pass, "min_heatmap_similarity": rules.min_heatmap_similarity}
    case_values.update({key: value for key, value in settings.items() if key in CASE_RULE_KEYS})
    regions = tuple((name, replace(region, **{key: float(value) for key, value in settings.items() if key in REGION_RULE_KEYS}))
                    for name, region in rules.regions)
    similarity = case_values["min_heatmap_similarity"]
    return CaseRules(bool(case_values["must_still_pass"]), None if similarity is None else float(similarity), regions)
