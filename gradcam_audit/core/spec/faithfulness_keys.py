"""Reading the faithfulness keys (`max_deletion_auc`, `min_insertion_auc`, `faithfulness_steps`) of a case or `defaults:`."""

from __future__ import annotations

from typing import Any

from gradcam_audit.core.spec.checks import ProblemCollector, describe_value, read_number
from gradcam_audit.core.spec.yaml_lines import LocatedDict

MOST_STEPS = 100  # 2·K images per case: beyond this the curves cost more than they tell


def read_faithfulness(mapping: LocatedDict, prefix: str, collector: ProblemCollector, case_index: int | None = None) -> dict[str, Any]:
    """The valid faithfulness values written in ``mapping`` (invalid ones are reported and left out)."""
    values: dict[str, Any] = {}
    for key in ("max_deletion_auc", "min_insertion_auc", "max_outside_effect"):
        number = read_number(mapping, key, f"{prefix}{key}", collector, fraction=True, case_index=case_index)
        if number is not None:
            values[key] = number
    if "faithfulness_steps" in mapping:
        steps = mapping["faithfulness_steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MOST_STEPS:
            collector.add(mapping, "faithfulness_steps", f"{prefix}faithfulness_steps",
                          f"expected a whole number from 1 to {MOST_STEPS}, got {describe_value(steps)}",
                          "write faithfulness_steps: 10 (the default; each step adds two images per case)", case_index=case_index)
        else:
            values["faithfulness_steps"] = steps
    return values
