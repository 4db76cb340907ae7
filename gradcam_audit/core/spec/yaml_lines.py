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


class YamlLimitError(yaml.YAMLError):
    """The document expands (through aliases) to more nodes than allowed, or an alias refers to itself."""

    def __init__(self, message: str, fix: str, position: Position, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.position = position
        self.field = field


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _expanded_sizes(root: yaml.Node) -> dict[int, int]:
    """Nodes each node stands for once every alias is expanded, by ``id(node)``; each node is visited once.

    An alias is the same node object as its anchor, so the composed graph is small even when its expansion is
    astronomically large ("billion laughs"): sizes are summed over the graph without building the expansion.

    Raises:
        YamlLimitError: a node contains itself (``&a [*a]``), which expands forever.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise YamlLimitError("an alias refers to a node that contains it, so it expands forever",
                                 "remove the alias (*name) from inside its own anchor (&name)", _position(node), "")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes


def _check_expansion(root: yaml.Node, max_nodes: int) -> None:
    sizes = _expanded_sizes(root)
    total = sizes[id(root)]
    if total <= max_nodes:
        return
    # Name the top-level key that holds most of the expansion, at its value's line.
    field, where = "", _position(root)
    if isinstance(root, yaml.MappingNode) and root.value:
        key_node, value_node = max(root.value, key=lambda pair: sizes[id(pair[1])])
        field, where = (str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else ""), _position(value_node)
    from gradcam_audit.core.spec.limits import MAX_YAML_NODES_VARIABLE

    raise YamlLimitError(
        f"the YAML expands to {'more than 10^15' if total > 10**15 else f'{total:,}'} values once its aliases (*name) are "
        f"expanded, more than the limit of {max_nodes:,}",
        f"write the values out instead of nesting aliases of aliases; for a genuinely huge suite raise the limit with the "
        f"environment variable {MAX_YAML_NODES_VARIABLE} (e.g. {MAX_YAML_NODES_VARIABLE}={max_nodes * 4})",
        where,
        field,
    )


def load_located_yaml(text: str, source_file: str | None = None, max_nodes: int | None = None) -> Any:
    """Parse YAML text safely; mappings and sequences come back as LocatedDict / LocatedList.

    Args:
        text: the YAML document.
        source_file: the file name every container remembers, so problems found later name the right file.
        max_nodes: the most nodes the document may expand to, aliases included (default ``limits.max_yaml_nodes()``).

    Raises:
        YamlLimitError: the document expands beyond ``max_nodes``, or an alias contains itself.
        yaml.YAMLError: on syntax errors (callers turn it into a located Problem).
    """
    if max_nodes is None:
        from gradcam_audit.core.spec.limits import max_yaml_nodes

        max_nodes = max_yaml_nodes()
    loader = _LineLoader(text)
    loader.source_file = source_file
    try:
        # Composed first (a graph as small as the text), checked, and only then built into Python objects.
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, max_nodes)
        return loader.construct_document(node)
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
