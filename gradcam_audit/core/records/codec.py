"""The one way records become JSON data and come back: cattrs on the frozen dataclasses, strict when reading.

A record whose JSON differs from its fields says how in a ``JSON_FORM`` class attribute (a `JsonForm`); everything
else follows the fields, in order. Reading refuses a wrong type (text or true for a number, a list for an object)
with the field path, as a ResultsError naming the source and the fix, never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import cattrs
from cattrs.errors import ClassValidationError, IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from gradcam_audit.errors import ResultsError

Record = TypeVar("Record")
RESULTS_FIX = "give the results.json a run wrote (pytest --gradcam-report / --gradcam-json), unedited"
LISTED_PROBLEMS = 20


@dataclass(frozen=True)
class JsonForm:
    """How a record's JSON object differs from its dataclass fields.

    Attributes:
        keys: the order of the keys written, where it is not the fields' order followed by derived and constant keys.
        renamed: field → key written.
        dropped: fields never written nor read (they keep their default).
        derived: key → function of the record, written and ignored when read (a property a reader wants at hand).
        constants: key → value written always and required when read (a format marker).
        omitted: key → whether the record leaves it out (read back as the field's default).
        flattened: a field holding a record (or None) whose keys are written into this object; read back when any of
            its keys is there.
        choices: field → the values it may hold (checked when read).
        checked_against: field holding a mapping → a dataclass whose fields type the mapping's known keys (checked
            when read, kept as written).
    """

    keys: tuple[str, ...] = ()
    renamed: Mapping[str, str] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    derived: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)
    omitted: Mapping[str, Callable[[Any], bool]] = field(default_factory=dict)
    flattened: str | None = None
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    checked_against: Mapping[str, type] = field(default_factory=dict)


PLAIN = JsonForm()


def json_form(record: type) -> JsonForm:
    form = getattr(record, "JSON_FORM", PLAIN)
    return form if isinstance(form, JsonForm) else PLAIN


class Mismatch(ValueError):
    """A value that is not what its field holds; ``key`` names the key inside the object being read, if any."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def describe(value: Any) -> str:
    """A value as a person reads it in a message: JSON, shortened; objects and lists by their kind only."""
    if isinstance(value, dict):
        return "an object {...}"
    if isinstance(value, (list, tuple)):
        return "a list [...]"
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


_SCALARS: dict[Any, str] = {float: "a number", int: "an integer", str: "text", bool: "true or false", type(None): "null"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: Any, _type: Any) -> float:
    if not _is_number(value):  # an int is a number (JSON writes 1.0 as 1 nowhere, but a person may); true is not
        raise Mismatch(f"expected a number, got {describe(value)}")
    return float(value)


def _integer(value: Any, _type: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Mismatch(f"expected an integer, got {describe(value)}")
    return value


def _text(value: Any, _type: Any) -> str:
    if not isinstance(value, str):
        raise Mismatch(f"expected text, got {describe(value)}")
    return value


def _boolean(value: Any, _type: Any) -> bool:
    if not isinstance(value, bool):
        raise Mismatch(f"expected true or false, got {describe(value)}")
    return value


def _is_scalar_union(annotation: Any) -> bool:
    """A union of two or more scalar types besides None (a check's value: a number, a flag or a word)."""
    arguments = typing.get_args(annotation)
    return (typing.get_origin(annotation) in (typing.Union, types.UnionType) and all(argument in _SCALARS for argument in arguments)
            and sum(argument is not type(None) for argument in arguments) >= 2)


def _scalar_union(value: Any, annotation: Any) -> Any:
    """Kept as written when its JSON type is one of the union's (an integer counts as a number, true does not)."""
    arguments = typing.get_args(annotation)
    if type(value) in arguments or (float in arguments and _is_number(value)):
        return value
    *others, last = dict.fromkeys(_SCALARS[argument] for argument in arguments)
    raise Mismatch(f"expected {', '.join(others)} or {last}, got {describe(value)}")


def _is_tuple(annotation: Any) -> bool:
    return typing.get_origin(annotation) is tuple


def _is_named_pairs(annotation: Any) -> bool:
    """``tuple[tuple[str, X], ...]``: names with a record each, written as a JSON object (a case's region rules)."""
    arguments = typing.get_args(annotation)
    if not _is_tuple(annotation) or len(arguments) != 2 or arguments[1] is not Ellipsis:
        return False
    pair = typing.get_args(arguments[0])
    return _is_tuple(arguments[0]) and len(pair) == 2 and pair[0] is str and pair[1] is not Ellipsis


def _items(values: list[tuple[Any, Any]], annotation: Any) -> list[Any]:
    """Each (index or key, (value, type)) structured; every failure kept with where it is, raised together."""
    structured, problems = [], []
    for where, (value, item_type) in values:
        try:
            structured.append(converter.structure(value, item_type))
        except Exception as error:  # noqa: BLE001 - collected with its position, reported with every other problem
            error.__notes__ = [*getattr(error, "__notes__", []), IterableValidationNote(f"Structuring @ {where!r}", where, item_type)]
            problems.append(error)
    if problems:
        raise IterableValidationError(f"While structuring {annotation!r}", problems, annotation)
    return structured


def _tuple(value: Any, annotation: Any) -> tuple[Any, ...]:
    arguments = typing.get_args(annotation)
    if not isinstance(value, (list, tuple)):
        raise Mismatch(f"expected a list [...], got {describe(value)}")
    if len(arguments) == 2 and arguments[1] is Ellipsis:
        return tuple(_items(list(enumerate((item, arguments[0]) for item in value)), annotation))
    if len(value) != len(arguments):
        raise Mismatch(f"expected a list of {len(arguments)} items, got {len(value)} items")
    return tuple(_items(list(enumerate(zip(value, arguments))), annotation))


def _mapping(value: Any, annotation: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Mismatch(f"expected an object {{...}}, got {describe(value)}")
    item_type = typing.get_args(annotation)[1] if typing.get_args(annotation) else Any
    for key in value:
        if not isinstance(key, str):
            raise Mismatch(f"expected text keys, got {describe(key)}")
    return dict(zip(value, _items([(key, (item, item_type)) for key, item in value.items()], annotation)))


def _named_pairs(value: Any, annotation: Any) -> tuple[tuple[str, Any], ...]:
    value_type = typing.get_args(typing.get_args(annotation)[0])[1]
    return tuple(_mapping(value, dict[str, value_type]).items())  # type: ignore[valid-type]


def _checked_mapping(against: type) -> Callable[[Any, Any], dict[str, Any]]:
    """A mapping whose keys named in ``against``'s fields must hold those fields' types; values kept as written."""
    hints = typing.get_type_hints(against)

    def structure(value: Any, _type: Any) -> dict[str, Any]:
        written = _mapping(value, dict[str, Any])
        _items([(key, (item, hints[key])) for key, item in written.items() if key in hints], dict[str, Any])
        return written

    return structure


def _structure_factory(record: type) -> Callable[[Any, Any], Any]:
    form = json_form(record)
    overrides = {name: override(rename=form.renamed.get(name), omit=name in form.dropped or name == form.flattened,
                                struct_hook=_checked_mapping(form.checked_against[name]) if name in form.checked_against else None)
                 for name in (item.name for item in dataclasses.fields(record))}
    base: Callable[[Any], Any] = make_dict_structure_fn(record, converter, **overrides)  # type: ignore[arg-type]
    flattened = typing.get_type_hints(record)[form.flattened] if form.flattened else None
    inner = next((argument for argument in typing.get_args(flattened) if argument is not type(None)), flattened)

    def structure(value: Any, _type: Any) -> Any:
        if not isinstance(value, dict):
            raise Mismatch(f"expected an object {{...}}, got {describe(value)}")
        for key, constant in form.constants.items():
            if value.get(key) != constant:
                raise Mismatch(f"expected {describe(constant)} (this version reads only that), got "
                               f"{describe(value[key]) if key in value else 'nothing'}", key)
        for name, allowed in form.choices.items():
            key = form.renamed.get(name, name)
            if key in value and value[key] not in allowed:
                raise Mismatch(f"expected one of {', '.join(allowed)}, got {describe(value[key])}", key)
        built = base(value)
        if form.flattened is not None and inner is not None:
            keys = [item.name for item in dataclasses.fields(inner)]
            if any(value.get(key) is not None for key in keys):
                nested = converter.structure({key: value[key] for key in keys if key in value}, inner)
                built = dataclasses.replace(built, **{form.flattened: nested})
        return built

    return structure


_WRITERS: dict[type, Callable[[Any, Any], dict[str, Any]]] = {}


def _writer(record: type) -> Callable[[Any, Any], dict[str, Any]]:
    """(the record, the record whose fields are written) → its JSON object; the two differ only for ``emptied``."""
    if record in _WRITERS:
        return _WRITERS[record]
    form = json_form(record)
    names = [item.name for item in dataclasses.fields(record)]
    overrides = {name: override(rename=form.renamed.get(name), omit=name in form.dropped or name == form.flattened) for name in names}
    base: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(record, converter, **overrides)  # type: ignore[arg-type]

    def write(whole: Any, fields_of: Any) -> dict[str, Any]:
        data = base(fields_of)
        data.update({key: converter.unstructure(derive(whole)) for key, derive in form.derived.items()})
        data.update(form.constants)
        nested = getattr(whole, form.flattened) if form.flattened is not None else None
        if nested is not None:
            data.update(to_data(nested))
        for key, leave_out in form.omitted.items():
            if leave_out(whole):
                data.pop(key, None)
        if form.keys:
            stray = set(data) - set(form.keys)
            if stray:  # a field added without its place in the written order: a programming error, caught by the tests
                raise TypeError(f"{record.__name__}.JSON_FORM.keys lacks {sorted(stray)}")
            data = {key: data[key] for key in form.keys if key in data}
        return data

    _WRITERS[record] = write
    return write


def _unstructure_factory(record: type) -> Callable[[Any], dict[str, Any]]:
    write = _writer(record)
    return lambda value: write(value, value)


def _is_mapping(annotation: Any) -> bool:
    return typing.get_origin(annotation) is dict or annotation is dict


def _is_record(annotation: Any) -> bool:
    return isinstance(annotation, type) and dataclasses.is_dataclass(annotation)


converter = cattrs.Converter(detailed_validation=True, unstruct_collection_overrides={tuple: list})
for _scalar, _hook in ((float, _number), (int, _integer), (str, _text), (bool, _boolean)):
    converter.register_structure_hook(_scalar, _hook)
# Later registrations are asked first: the general shapes before the special ones.
converter.register_structure_hook_func(_is_mapping, _mapping)
converter.register_structure_hook_func(_is_tuple, _tuple)
converter.register_structure_hook_func(_is_named_pairs, _named_pairs)
converter.register_structure_hook_func(_is_scalar_union, _scalar_union)
converter.register_unstructure_hook_func(_is_named_pairs, lambda pairs: {name: to_data(value) for name, value in pairs})
converter.register_structure_hook_factory(_is_record, _structure_factory)
converter.register_unstructure_hook_factory(_is_record, _unstructure_factory)


def to_data(record: Any, *, emptied: tuple[str, ...] = ()) -> dict[str, Any]:
    """The record's JSON object (plain dicts, lists, numbers, text; tuples become lists).

    ``emptied``: tuple fields written as ``[]`` while derived keys still see them (a results file streams its cases).
    """
    fields_of = dataclasses.replace(record, **{name: () for name in emptied}) if emptied else record
    return _writer(type(record))(record, fields_of)


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def problems_of(error: BaseException, path: str = "") -> list[str]:
    """Each problem of a failed read as ``field.path[3].key: what was expected, what was found``."""
    if isinstance(error, ClassValidationError):
        renamed = json_form(error.cl).renamed
        attributes, unplaced = error.group_exceptions()
        found = [problem for inner, note in attributes for problem in problems_of(inner, _join(path, renamed.get(note.name, note.name)))]
        return found + [problem for inner in unplaced for problem in problems_of(inner, path)]
    if isinstance(error, IterableValidationError):
        items, unplaced = error.group_exceptions()
        found = [problem for inner, note in items for problem in problems_of(inner, _join(path, note.index))]
        return found + [problem for inner in unplaced for problem in problems_of(inner, path)]
    where = path or "(top level)"
    if isinstance(error, Mismatch):
        return [f"{_join(path, error.key) if error.key else where}: {error}"]
    if isinstance(error, KeyError):
        return [f"{where}: missing"]
    return [f"{where}: {type(error).__name__}: {str(error)[:200]}"]


def from_data(record: type[Record], data: Any, source: str, *, fix: str = RESULTS_FIX, what: str = "results file") -> Record:
    """The record ``data`` holds, every field checked against its type.

    Raises:
        ResultsError: naming ``source``, every field path that is wrong (at most LISTED_PROBLEMS) and ``fix``.
    """
    try:
        built: Record = converter.structure(data, record)
    except (ClassValidationError, IterableValidationError, Mismatch) as error:
        found = problems_of(error)
        listed = "\n".join(f"  {problem}" for problem in found[:LISTED_PROBLEMS])
        more = f"\n  ... and {len(found) - LISTED_PROBLEMS} more" if len(found) > LISTED_PROBLEMS else ""
        raise ResultsError(f"{source}: not a valid gradcam_audit {what} ({len(found)} problem{'s' if len(found) != 1 else ''}):\n"
                           f"{listed}{more}\n  fix: {fix}") from None
    return built
