"""Parsing a `baseline:` mapping (regression rules against a baseline run) under `defaults:`, a case or a region."""

from __future__ import annotations

from typing import Any

from gradcam_audit.core.spec.checks import ProblemCollector, as_finite_number, check_keys, describe_value, read_boolean, read_number
from gradcam_audit.core.spec.fields import BASELINE_FIELDS, BASELINE_REGION_FIELDS, names
from gradcam_audit.core.spec.yaml_lines import LocatedDict

BaselineValues = tuple[tuple[str, float | bool | None], ...]


def parse_baseline(container: Any, field: str, collector: ProblemCollector, *, region: bool = False,
                   case_index: int | None = None) -> dict[str, float | bool | None]:
    """The valid rules set in ``container["baseline"]`` (none when absent); each invalid one is a problem.

    ``region``: only the region-level rules (max_mass_rise, max_lift_drop) are allowed.
    """
    if not isinstance(container, LocatedDict) or container.get("baseline") is None:
        return {}
    mapping = container["baseline"]
    allowed = names(BASELINE_REGION_FIELDS if region else BASELINE_FIELDS)
    if not isinstance(mapping, LocatedDict):
        collector.add(container, "baseline", field, f"expected a mapping such as {{max_mass_rise: 0.05}}, got {describe_value(mapping)}",
                      f"indent the rules under `baseline:`; they are {', '.join(allowed)}", case_index=case_index)
        return {}
    check_keys(mapping, allowed, f"{field}.", collector, case_index)
    values: dict[str, float | bool | None] = {}
    for key in ("max_mass_rise", "max_lift_drop"):
        number = read_number(mapping, key, f"{field}.{key}", collector, case_index=case_index)
        if number is not None and number < 0:
            collector.add(mapping, key, f"{field}.{key}", f"got {number!r}; expected a number ≥ 0 (a tolerance)",
                          f"write e.g. {key}: 0.05", case_index=case_index)
        elif number is not None:
            values[key] = number
    if region:
        return values
    if "must_still_pass" in mapping:
        values["must_still_pass"] = read_boolean(mapping, "must_still_pass", f"{field}.must_still_pass", collector, True, case_index)
    if mapping.get("min_heatmap_similarity") is not None:
        raw = mapping["min_heatmap_similarity"]
        number = as_finite_number(raw)
        if number is None or not -1.0 <= number <= 1.0:
            collector.add(mapping, "min_heatmap_similarity", f"{field}.min_heatmap_similarity",
                          f"expected a rank correlation between -1 and 1, got {describe_value(raw)}",
                          "write e.g. min_heatmap_similarity: 0.8 (1 = the same ranking of attention as the baseline)",
                          case_index=case_index)
        else:
            values["min_heatmap_similarity"] = number
    return values


def inherit(outer: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """Rules of an inner level (a case, a region) over the outer one's, key by key."""
    return {**outer, **own}


def as_values(rules: dict[str, Any]) -> BaselineValues:
    return tuple(sorted(rules.items()))
