"""Specs cannot make the loader use unbounded memory or time: a byte limit per file and a bound on alias expansion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gradcam_audit.core.spec.load import parse_spec
from tests.hostile.conftest import HEALTHY_SPEC, assert_message, spec_folder


def billion_laughs(depth: int = 9) -> str:
    """Anchors defined in a list (`- &a1 [*a0, ...]`), each nine copies of the previous: 9^depth values."""
    lines = ['  - &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"  - &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]" for level in range(1, depth + 1)]
    return "\n".join(lines)


def record_built_documents(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The file of every YAML document PyYAML builds into Python objects from now on (the real method still runs)."""
    built: list[str] = []
    construct_document = yaml.constructor.BaseConstructor.construct_document

    def recording(loader: Any, node: yaml.Node) -> Any:
        built.append(str(getattr(loader, "source_file", None)))
        return construct_document(loader, node)

    monkeypatch.setattr(yaml.constructor.BaseConstructor, "construct_document", recording)
    return built


FIELDS = ["method", "resize", "score", "box_format", "labels", "layer", "gate", "defaults", "cases"]


@pytest.mark.parametrize("field", FIELDS)
def test_an_alias_bomb_in_any_field_is_one_located_problem(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded by construction, not by a clock: the 9^10-value expansion is refused before it is built into objects
    (so nothing can walk it), while the healthy spec beside it is built and checked."""
    folder = spec_folder(tmp_path)
    bomb = folder / "bomb.yaml"
    bomb.write_text(f"model: model.keras\n{field}:\n{billion_laughs()}\n", encoding="utf-8")
    built = record_built_documents(monkeypatch)
    outcome = cli("validate", folder)
    assert not [source for source in built if source.endswith("bomb.yaml")], built
    assert [source for source in built if source.endswith("healthy.yaml")], built
    assert_message(outcome, "bomb.yaml:3:", f"{field}:", "aliases", "GRADCAM_MAX_YAML_NODES", "of 2 spec file(s)")
    assert "healthy.yaml" not in outcome.output  # the healthy spec beside it was checked and has no problem


def test_an_alias_bomb_in_the_directory_defaults_is_reported_there(tmp_path: Path) -> None:
    folder = spec_folder(tmp_path)
    (folder / "_defaults.yaml").write_text(f"method:\n{billion_laughs()}\n", encoding="utf-8")
    parsed = parse_spec(folder / "healthy.yaml")
    assert any(problem.file.endswith("_defaults.yaml") and "GRADCAM_MAX_YAML_NODES" in (problem.fix or "")
               for problem in parsed.all_problems), [problem.format() for problem in parsed.all_problems]


def test_a_recursive_alias_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    folder = spec_folder(tmp_path)
    path = folder / "recursive.yaml"
    path.write_text("model: model.keras\nresize: &loop [*loop]\n", encoding="utf-8")
    parsed = parse_spec(path)
    assert parsed.spec is None and "expands forever" in parsed.problems[0].message and parsed.problems[0].line == 2


def test_the_alias_bound_can_be_raised_with_its_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = spec_folder(tmp_path)
    path = folder / "aliases.yaml"
    path.write_text(HEALTHY_SPEC + f"x_anchors:\n{billion_laughs(depth=3)}\n", encoding="utf-8")
    monkeypatch.setenv("GRADCAM_MAX_YAML_NODES", "100")
    assert "GRADCAM_MAX_YAML_NODES" in (parse_spec(path).problems[0].fix or "")
    monkeypatch.setenv("GRADCAM_MAX_YAML_NODES", "100000")
    assert not any("aliases" in problem.message for problem in parse_spec(path).problems)


@pytest.mark.parametrize("name", ["spec.yaml", "_defaults.yaml", "labels.txt"])
def test_files_over_the_byte_limit_are_refused_with_the_variable_to_raise_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    folder = spec_folder(tmp_path)
    monkeypatch.setenv("GRADCAM_MAX_SPEC_BYTES", "2000")
    padding = "# padding\n" * 300
    spec = folder / "healthy.yaml"
    if name == "spec.yaml":
        spec.write_text(HEALTHY_SPEC + padding, encoding="utf-8")
    elif name == "_defaults.yaml":
        (folder / "_defaults.yaml").write_text("resize: stretch\n" + padding, encoding="utf-8")
    else:
        (folder / "labels.txt").write_text("cat\ndog\n" + "# x\n" * 1000, encoding="utf-8")
        spec.write_text(HEALTHY_SPEC.replace("labels: [cat, dog]", "labels: labels.txt"), encoding="utf-8")
    problems = parse_spec(spec).all_problems
    assert any("2,000 bytes" in problem.message and "GRADCAM_MAX_SPEC_BYTES" in (problem.fix or "") for problem in problems), \
        [problem.format() for problem in problems]


def test_a_bad_limit_setting_is_a_problem_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = spec_folder(tmp_path)
    monkeypatch.setenv("GRADCAM_MAX_SPEC_BYTES", "lots")
    problems = parse_spec(folder / "healthy.yaml").problems
    assert "GRADCAM_MAX_SPEC_BYTES='lots'" in problems[0].message


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_spec_that_is_not_a_regular_file_is_a_problem(tmp_path: Path, kind: str) -> None:
    import os

    path = tmp_path / "odd.yaml"
    if kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)  # reading it would block forever
    problems = parse_spec(path).problems
    assert "not a regular file" in problems[0].message


def test_parse_spec_never_raises_on_deep_nesting(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("model: " + "[" * 20_000 + "]" * 20_000 + "\n", encoding="utf-8")
    parsed = parse_spec(path)
    assert parsed.spec is None and parsed.problems
