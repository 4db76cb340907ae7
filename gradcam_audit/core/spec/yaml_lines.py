"""A safe YAML loader that remembers where every key and list item came from (line, column)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Position:
    """1-based line and column of a YAML node."""

    line: int
    column: int


class LocatedDict(dict):  # type: ignore[type-arg]
    """A mapping that knows its own position and the positions of its keys and values."""

    position: Position
    key_positions: dict[Any, Position]
    value_positions: dict[Any, Position]
    duplicate_keys: list[tuple[Any, Position]]
    source_file: str | None
    # Keys merged in from another file (a directory's _defaults.yaml) remember that file for error messages.
    key_sources: dict[Any, str]


class LocatedList(list):  # type: ignore[type-arg]
    """A sequence that knows its own position and the position of each item."""

    position: Position
    item_positions: list[Position]
    source_file: str | None


def _position(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader (no arbitrary objects) whose containers carry source positions."""

    source_file: str | None = None


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LocatedDict:
    loader.flatten_mapping(node)
    mapping = LocatedDict()
    mapping.position = _position(node)
    mapping.key_positions = {}
    mapping.value_positions = {}
    mapping.duplicate_keys = []
    mapping.source_file = loader.source_file
    mapping.key_sources = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from None
        if key in mapping:
            # PyYAML silently keeps the last value; a spec author almost always made a copy-paste mistake.
            mapping.duplicate_keys.append((key, _position(key_node)))
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_positions[key] = _position(key_node)
        mapping.value_positions[key] = _position(value_node)
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LocatedList:
    sequence = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    sequence.position = _position(node)
    sequence.item_positions = [_position(child) for child in node.value]
    sequence.source_file = loader.source_file
    return sequence


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_located_yaml(text: str, source_file: str | None = None) -> Any:
    """Parse YAML text safely; mappings and sequences come back as LocatedDict / LocatedList.

    Args:
        text: the YAML document.
        source_file: the file name every container remembers, so problems found later name the right file.

    Raises:
        yaml.YAMLError: on syntax errors (callers turn it into a located Problem).
    """
    loader = _LineLoader(text)
    loader.source_file = source_file
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def position_of_key(container: Any, key: Any) -> Position | None:
    """Where ``key`` is written in a mapping (the mapping itself when the key is absent)."""
    if isinstance(container, LocatedDict):
        return container.key_positions.get(key, container.position)
    return None


def position_of_value(container: Any, key: Any) -> Position | None:
    """Where the value of ``key`` (or list item ``key``) starts; the container itself when absent."""
    if isinstance(container, LocatedDict):
        return container.value_positions.get(key, container.position)
    if isinstance(container, LocatedList) and isinstance(key, int) and 0 <= key < len(container.item_positions):
        return container.item_positions[key]
    return getattr(container, "position", None)
