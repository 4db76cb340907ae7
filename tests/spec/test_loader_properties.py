"""Property-based: random and mutated specs either load or yield the project's own problems, never another exception."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcam_audit.core.spec.fields import sections
from gradcam_audit.core.spec.load import load_spec, parse_spec
from gradcam_audit.core.spec.model import ParsedSpec, Spec
from gradcam_audit.errors import Problem, SpecError
from tests.spec.helpers import VALID_SPEC, make_folder

FIELD_NAMES = sorted({field_doc.name for fields in sections().values() for field_doc in fields})
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**3), max_value=10**3),
    st.integers(min_value=10**300, max_value=10**310),  # too big for a float
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["images/a.png", "images/none.png", "model.keras", "cat", "xyxy", "auto", "gradcam", "", "a:b"]),
)
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(min_size=1, max_size=8))
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_folder(tmp_path_factory.mktemp("properties"))


def _check(path: Path) -> None:
    """The loader's contract: ParsedSpec with located Problems from parse_spec; Spec or SpecError from load_spec."""
    parsed = parse_spec(path)
    assert isinstance(parsed, ParsedSpec)
    for problem in parsed.all_problems:
        assert isinstance(problem, Problem)
        assert problem.file and problem.message
        assert problem.fix, f"problem without a fix: {problem.format()}"
        assert "Traceback" not in problem.format()
    try:
        spec = load_spec(path)
    except SpecError as error:
        assert error.problems
    else:
        assert isinstance(spec, Spec) and not parsed.all_problems


def _write(folder: Path, document: Any) -> Path:
    path = folder / "generated.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@PROPERTY_SETTINGS
@given(document=st.one_of(values, st.dictionaries(keys, values, max_size=8)))
def test_random_documents_load_or_report_problems(folder: Path, document: Any) -> None:
    _check(_write(folder, document))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found.extend(_paths(child, (*prefix, index)))
    return found


@st.composite
def mutated_specs(draw: st.DrawFn) -> Any:
    document = yaml.safe_load(VALID_SPEC)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = draw(st.sampled_from(["replace", "delete", "rename", "add", "duplicate"]))
        if action == "replace":
            parent[last] = draw(values)
        elif action == "delete":
            del parent[last]
        elif action == "rename" and isinstance(parent, dict) and isinstance(last, str) and len(last) > 1:
            cut = draw(st.integers(min_value=0, max_value=len(last) - 1))
            parent[last[:cut] + last[cut + 1 :]] = parent.pop(last)
        elif action == "add" and isinstance(parent, dict):
            parent[draw(keys)] = draw(values)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return document


@PROPERTY_SETTINGS
@given(document=mutated_specs())
def test_mutated_specs_load_or_report_problems(folder: Path, document: Any) -> None:
    _check(_write(folder, document))


@PROPERTY_SETTINGS
@given(position=st.integers(min_value=0, max_value=len(VALID_SPEC) - 1), action=st.sampled_from(["delete", "insert"]),
       character=st.sampled_from(list(":-[]{}#&*!|>'\"%@` \t\n") + ["\x00", "\ufeff", "é"]))
def test_specs_with_mangled_text_load_or_report_problems(folder: Path, position: int, action: str, character: str) -> None:
    text = VALID_SPEC[:position] + ("" if action == "delete" else character) + VALID_SPEC[position + (1 if action == "delete" else 0):]
    path = folder / "mangled.yaml"
    path.write_text(text, encoding="utf-8")
    _check(path)


def test_the_unmutated_base_spec_loads(folder: Path) -> None:
    """Without this, the properties above could pass on a base that never loads."""
    assert isinstance(load_spec(_write(folder, yaml.safe_load(VALID_SPEC))), Spec)
