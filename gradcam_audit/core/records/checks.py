"""Check records: the one place where a measured value is compared with a limit.

Every verdict of the audit (a region's threshold, a case's expected class, a gate's pass rate) is a `Check`
built here. Renderers format checks; they never compare numbers themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CheckValue = float | bool | str | None

COMPARISONS = (">=", "<=", "==")


@dataclass(frozen=True)
class Check:
    """One threshold on one subject, decided.

    Attributes:
        subject: what was measured: a region's name, "prediction", "gate", or "class 'cat'" for per-class gates.
        metric: the measured quantity ("mass", "lift", "peak_inside", "iou", "visible", "pass_rate", ...).
        value: the measured value (None when it could not be computed).
        limit: the threshold it was compared with.
        comparison: ">=", "<=" or "==" (value comparison limit must hold).
        passed: whether it held; a value that could not be computed never passes.
        reason: why it did not hold, in words ("" when it passed).
        threshold_key: the spec key that set the limit ("min_mass"), or "" for built-in checks.
    """

    subject: str
    metric: str
    value: CheckValue
    limit: CheckValue
    comparison: str
    passed: bool
    reason: str = ""
    threshold_key: str = ""

def holds(value: CheckValue, comparison: str, limit: CheckValue) -> bool:
    """Whether ``value comparison limit`` holds. Missing or non-finite numbers never hold."""
    if comparison not in COMPARISONS:
        raise ValueError(f"unknown comparison {comparison!r}; expected one of {', '.join(COMPARISONS)}")
    if value is None or limit is None:
        return False
    if comparison == "==":
        return value == limit
    if isinstance(value, (bool, str)) or isinstance(limit, (bool, str)):
        raise ValueError(f"cannot compare {value!r} {comparison} {limit!r}: ordering needs numbers")
    if not (math.isfinite(value) and math.isfinite(limit)):
        return False
    return value >= limit if comparison == ">=" else value <= limit


def _number(value: CheckValue) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def limit_text(limit: float) -> str:
    """A threshold as written: short where that is exact, else every digit (1.0000001, never "1")."""
    short = f"{limit:g}"
    return short if float(short) == limit else repr(limit)


def decide(
    subject: str,
    metric: str,
    value: CheckValue,
    comparison: str,
    limit: CheckValue,
    *,
    threshold_key: str = "",
    reason: str | None = None,
) -> Check:
    """A decided check. ``reason`` overrides the default wording of a miss ("mass 0.012 < min_mass 0.05")."""
    passed = holds(value, comparison, limit)
    if passed:
        return Check(subject, metric, value, limit, comparison, True, "", threshold_key)
    if reason is None:
        opposite = {">=": "<", "<=": ">", "==": "≠"}[comparison]
        if value is None:
            reason = f"{metric} could not be computed"
        else:
            reason = f"{metric} {_number(value)} {opposite} {threshold_key or 'limit'} {limit_text(limit)}" if isinstance(limit, float) \
                else f"{metric} {_number(value)} {opposite} {limit}"
    return Check(subject, metric, value, limit, comparison, False, reason, threshold_key)


def failed(subject: str, metric: str, reason: str, *, value: CheckValue = None, limit: CheckValue = None) -> Check:
    """A built-in condition that does not hold (the region covers no pixel, the heatmap is degenerate)."""
    return Check(subject, metric, value, limit, "==", False, reason)


def all_passed(checks: tuple[Check, ...]) -> bool:
    return all(check.passed for check in checks)


def reasons(checks: tuple[Check, ...]) -> tuple[str, ...]:
    return tuple(check.reason for check in checks if not check.passed)
