"""The one reader for JSON that comes from outside (results, baselines, COCO/labelme exports): bounded and strict.

Bounded in bytes and nesting depth; numbers strict: NaN/Infinity, a float that overflows to infinity (``1e400``) and
an integer of more digits than any count or pixel are refused with the field path, never read as a value.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gradcam_audit.errors import ResultsError

MAX_JSON_BYTES_VARIABLE = "GRADCAM_AUDIT_MAX_JSON_BYTES"
# A results file of 100,000 cases with heatmaps is about 200 MB; anything larger is not ours.
DEFAULT_MAX_JSON_BYTES = 1_000_000_000
# Our files nest about 8 deep (run → cases → result → regions → checks → …); a COCO export about 5.
MAX_JSON_DEPTH = 64
# More digits than any count, pixel or id in our files (2**63 has 19): a larger integer is a mistake or an attack.
MAX_INTEGER_DIGITS = 19


class _Refused:
    """A number the parser met and refused; found by the walk below, which knows its field path."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _parse_float(text: str) -> Any:
    value = float(text)
    if not math.isfinite(value):
        return _Refused(f"the number {text[:40]} is beyond what a float holds (it would be read as infinity)")
    return value


def _parse_int(text: str) -> Any:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        return _Refused(f"the integer {text[:24]}… has {len(text.lstrip('-'))} digits, more than any value in these files")
    return int(text)


def _parse_constant(name: str) -> Any:
    return _Refused(f"{name} is not a number in strict JSON")


def _field_path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _first_problem(data: Any) -> tuple[str, str] | None:
    """(field path, reason) of the first refused number or over-deep nesting, walked without recursion."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, _Refused):
            return path or "(top level)", value.reason
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return path, f"nested too deeply (more than {MAX_JSON_DEPTH} levels)"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(item, (dict, list, _Refused)):
                    stack.append((item, _field_path(path, key), depth + 1))
    return None


def _float_of_int(text: str) -> float:
    return float(text)  # 10**400 becomes infinity here (no OverflowError later); the caller's checks name it


def parse_json_text(text: str, source: str, error: Callable[[str], Exception] = ResultsError, fix: str = "",
                    *, strict_numbers: bool = True) -> Any:
    """Parse strict, bounded JSON; every refusal is ``error(message)`` naming ``source``, the field path and ``fix``.

    ``strict_numbers=False`` (annotation exports, whose readers check every coordinate and size for finiteness with
    their own wording): an overflowing float, a huge integer or NaN is read as a non-finite float instead of refused.

    Raises:
        ``error(...)`` (ResultsError by default): malformed JSON, NaN/Infinity, an overflowing number, nesting deeper
            than MAX_JSON_DEPTH.
    """
    how = f"; {fix}" if fix else ""
    try:
        if strict_numbers:
            data = json.loads(text, parse_float=_parse_float, parse_int=_parse_int, parse_constant=_parse_constant)
        else:
            data = json.loads(text, parse_int=lambda digits: int(digits) if len(digits.lstrip("-")) <= MAX_INTEGER_DIGITS
                              else _float_of_int(digits))
    except json.JSONDecodeError as decode_error:
        stripped = text.rstrip()
        ended_early = decode_error.pos >= len(stripped) or not stripped.endswith(("}", "]"))
        hint = ": the file ends before its JSON does (truncated?)" if ended_early else ""
        raise error(f"{source}: not valid JSON: line {decode_error.lineno} column {decode_error.colno}: {decode_error.msg}{hint}{how}") from None
    except RecursionError:
        raise error(f"{source}: the JSON is nested too deeply (more than {MAX_JSON_DEPTH} levels); expected a file "
                    f"this tool wrote{how}") from None
    problem = _first_problem(data)
    if problem is not None:
        where, reason = problem
        raise error(f"{source}: {where}: {reason}; expected a finite number of ordinary size, nested at most "
                    f"{MAX_JSON_DEPTH} deep{how}")
    return data


def max_json_bytes() -> int:
    """The byte bound, raised with GRADCAM_AUDIT_MAX_JSON_BYTES for a genuinely huge file (a bad setting: the default)."""
    raw = os.environ.get(MAX_JSON_BYTES_VARIABLE, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_JSON_BYTES


def decode_json_bytes(raw: bytes, source: str, error: Callable[[str], Exception] = ResultsError, fix: str = "") -> str:
    """UTF-8 text of a JSON file (a leading BOM allowed); UTF-16 and binary files are ``error`` naming what to do."""
    how = f"; {fix}" if fix else ""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise error(f"{source}: the file is UTF-16 text; these files are UTF-8 JSON (re-save it as UTF-8){how}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as decode_error:
        raise error(f"{source}: not UTF-8 text (byte 0x{raw[decode_error.start]:02x} at offset {decode_error.start}): "
                    f"not a JSON file{how}") from None


def read_json(path: Path, source: str | None = None, error: Callable[[str], Exception] = ResultsError, fix: str = "",
              *, strict_numbers: bool = True) -> Any:
    """A JSON file read with every bound of this module; ``source`` names it in messages (default: the path).

    Raises:
        ``error(...)``: missing, a folder, unreadable, over the byte bound, not UTF-8, or refused by parse_json_text.
    """
    name = source or str(path)
    limit = max_json_bytes()
    try:
        with path.open("rb") as stream:
            raw = stream.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{name}: file not found") from None
    except IsADirectoryError:
        raise error(f"{name} is a folder, not a JSON file: give the .json file inside it") from None
    except OSError as os_error:
        raise error(f"{name}: cannot be read ({os_error.strerror or os_error})") from None
    if len(raw) > limit:
        raise error(f"{name}: larger than {limit:,} bytes; raise the limit with the environment variable "
                    f"{MAX_JSON_BYTES_VARIABLE} if the file is genuine")
    return parse_json_text(decode_json_bytes(raw, name, error, fix), name, error, fix, strict_numbers=strict_numbers)
