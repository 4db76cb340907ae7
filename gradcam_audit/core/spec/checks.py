"""The problem collector and the checkers that read one typed value from a YAML mapping, reporting what is wrong."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from gradcam_audit.core.evaluate.metrics import SpecKey
from gradcam_audit.core.spec.fields import TAG_PATTERN
from gradcam_audit.core.spec.paths import display_path
from gradcam_audit.core.spec.suggest import did_you_mean, listing
from gradcam_audit.core.spec.yaml_lines import LocatedDict, position_of_key, position_of_value
from gradcam_audit.errors import Problem

_TAG = re.compile(TAG_PATTERN)
# How to write a valid value of the gate's limits; a region metric's keys carry their own fix (core/evaluate/metrics.py).
_THRESHOLD_FIXES = {
    "min_mean_mass": "a mean share of mass between 0 and 1, e.g. 0.4",
    "min_pass_rate": "a share of the cases between 0 and 1, e.g. 0.9 for 90 %",
    "max_transplant_flip_rate": "a share of the transplant pairs between 0 and 1, e.g. 0.05",
    "max_randomization_similarity": "a rank correlation between 0 and 1, e.g. 0.5",
}


class ProblemCollector:
    """Collects problems for one file; every add() knows where in the YAML the mistake is."""

    def __init__(self, file: Path) -> None:
        self.file = display_path(file)
        self.problems: list[Problem] = []
        self._seen: set[tuple[Any, ...]] = set()

    def add(
        self,
        container: Any,
        key: Any,
        field: str,
        message: str,
        fix: str | None = None,
        *,
        case_index: int | None = None,
        at_key: bool = False,
    ) -> None:
        position = position_of_key(container, key) if at_key else position_of_value(container, key)
        # A value merged in from _defaults.yaml is reported in that file, at its own line.
        sources = getattr(container, "key_sources", {})
        file = sources.get(key) if isinstance(key, str) and key in sources else getattr(container, "source_file", None)
        problem = Problem(
            file=file or self.file,
            field=field,
            message=message,
            line=position.line if position else None,
            column=position.column if position else None,
            fix=fix,
            case_index=case_index,
        )
        # Inherited values (a case's box_format, a defaults file) are checked once per region that uses them.
        identity = (problem.file, problem.field, problem.line, problem.column, problem.message, case_index)
        if identity not in self._seen:
            self._seen.add(identity)
            self.problems.append(problem)

    def add_file_problem(self, message: str, fix: str | None = None, line: int | None = None, column: int | None = None) -> None:
        self.problems.append(Problem(self.file, "", message, line=line, column=column, fix=fix))


def describe_value(value: Any, budget: int = 80) -> str:
    """A short, bounded rendering of a YAML value (aliases can make reprs huge, so never call repr on containers)."""

    def render(item: Any, depth: int) -> str:
        if isinstance(item, dict):
            if depth > 2:
                return "{...}"
            parts = [f"{render(key, depth + 1)}: {render(val, depth + 1)}" for key, val in list(item.items())[:4]]
            return "{" + ", ".join(parts) + (", ..." if len(item) > 4 else "") + "}"
        if isinstance(item, list):
            if depth > 2:
                return "[...]"
            parts = [render(element, depth + 1) for element in item[:6]]
            return "[" + ", ".join(parts) + (", ..." if len(item) > 6 else "") + "]"
        if isinstance(item, str):
            return repr(item if len(item) <= budget else item[:budget] + "...")
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > 10**30:
            return f"{'-' if item < 0 else ''}(a {len(str(abs(item)))}-digit integer)"
        return repr(item)

    text = render(value, 0)
    return text if len(text) <= budget else text[: budget - 3] + "..."


def as_finite_number(value: Any) -> float | None:
    """The value as a finite float, or None for non-numbers, booleans, NaN, ±inf and integers too big for a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def check_keys(
    mapping: LocatedDict, allowed: tuple[str, ...], prefix: str, collector: ProblemCollector, case_index: int | None = None
) -> None:
    for key in mapping:
        if key not in allowed:
            collector.add(
                mapping,
                key,
                f"{prefix}{key}",
                f"unknown key {describe_value(key)}{did_you_mean(str(key), allowed)}",
                f"use one of: {listing(allowed, 20)}",
                case_index=case_index,
                at_key=True,
            )
    for key, _position in getattr(mapping, "duplicate_keys", []):
        collector.add(mapping, key, f"{prefix}{key}", f"key {describe_value(key)} appears twice; the later value would win silently",
                      "keep one of them", case_index=case_index, at_key=True)


def read_number(
    mapping: LocatedDict,
    key: str,
    field: str,
    collector: ProblemCollector,
    *,
    fraction: bool = False,
    positive: bool = False,
    case_index: int | None = None,
    fix: str | None = None,
) -> float | None:
    if key not in mapping or mapping[key] is None:
        return None
    value = mapping[key]
    expected = "a number between 0 and 1" if fraction else ("a number greater than 0" if positive else "a number")
    fix = fix or _THRESHOLD_FIXES.get(key, "a lift of 1.0 is chance level; use e.g. 1.5" if positive else f"write {key}: <number>")
    number = as_finite_number(value)
    if isinstance(value, float) and not math.isfinite(value):
        kind = "not a number" if math.isnan(value) else "infinite"
        collector.add(mapping, key, field, f"got {'.nan' if math.isnan(value) else ('-' if value < 0 else '') + '.inf'} "
                      f"({kind}); expected {expected}, a finite value", fix, case_index=case_index)
        return None
    if number is None:
        collector.add(mapping, key, field, f"expected {expected}, got {describe_value(value)}", fix, case_index=case_index)
        return None
    # The value as written (repr), never rounded: `1.0000001` shown as "1" would look valid.
    if fraction and not 0.0 <= number <= 1.0:
        collector.add(mapping, key, field, f"got {exact_number(value)}, which is outside [0, 1] (expected {expected})", fix,
                      case_index=case_index)
        return None
    if positive and number <= 0:
        collector.add(mapping, key, field, f"got {exact_number(value)} (expected {expected})", fix, case_index=case_index)
        return None
    return number


def read_spec_key(
    mapping: LocatedDict, key: SpecKey, field: str, collector: ProblemCollector, case_index: int | None = None
) -> float | bool | None:
    """A region metric's key read as its declaration says (kind, range, fix); None when absent or invalid."""
    if key.kind == "boolean":
        return read_boolean(mapping, key.name, field, collector, bool(key.default), case_index) if key.name in mapping else None
    return read_number(mapping, key.name, field, collector, fraction=key.kind == "fraction", positive=key.kind == "positive",
                       case_index=case_index, fix=key.fix or None)


def exact_number(value: int | float) -> str:
    """A number as written, every digit kept (``repr``), for messages about a limit it just misses."""
    return describe_value(value) if isinstance(value, int) else repr(float(value))


def read_boolean(
    mapping: LocatedDict, key: str, field: str, collector: ProblemCollector, default: bool, case_index: int | None = None
) -> bool:
    if key not in mapping:
        return default
    value = mapping[key]
    if not isinstance(value, bool):
        collector.add(mapping, key, field, f"expected true or false, got {describe_value(value)}",
                      f"write {key}: true or {key}: false (unquoted)", case_index=case_index)
        return default
    return value


def read_choice(
    mapping: LocatedDict,
    key: str,
    field: str,
    choices: tuple[str, ...],
    collector: ProblemCollector,
    default: str,
    case_index: int | None = None,
) -> str:
    if key not in mapping:
        return default
    value = mapping[key]
    if not isinstance(value, str) or value not in choices:
        collector.add(mapping, key, field,
                      f"got {describe_value(value)}, expected one of {listing(choices)}{did_you_mean(str(value), choices)}",
                      f"write {key}: {choices[0]} (or another of the listed values)", case_index=case_index)
        return default
    return value


def read_reason(mapping: LocatedDict, key: str, field: str, collector: ProblemCollector, case_index: int | None = None) -> str | None:
    """An xfail reason: non-empty text, or None when absent or invalid (the problem is recorded)."""
    if key not in mapping or mapping[key] is None:
        return None
    value = mapping[key]
    if not isinstance(value, str) or not value.strip():
        collector.add(mapping, key, field, f"expected the reason (text) for the expected failure, got {describe_value(value)}",
                      f'write {key}: "why it is expected to fail (issue link)"', case_index=case_index)
        return None
    return value


def read_tags(mapping: LocatedDict, field: str, collector: ProblemCollector, case_index: int | None = None) -> list[str]:
    value = mapping.get("tags", [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) and _TAG.match(tag) for tag in value):
        collector.add(mapping, "tags", field, f"expected a list of identifiers (ASCII letters, digits, _), got {describe_value(value)}",
                      "tags become pytest markers, e.g. [phone_photo, night]", case_index=case_index)
        return []
    return list(value)

