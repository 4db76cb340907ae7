"""`gradcam-audit init`: a commented example spec and the pyproject.toml lines, never overwriting."""

from __future__ import annotations

from pathlib import Path

from gradcam_audit.core.spec.load import parse_spec
from tests.cli.conftest import assert_clean_error, run_cli


def test_init_scaffolds_specs_and_prints_the_pyproject_snippet(tmp_path: Path) -> None:
    result = run_cli("init", tmp_path / "project")
    assert result.returncode == 0, result.stderr
    example = tmp_path / "project" / "specs" / "example.yaml"
    assert example.is_file() and (tmp_path / "project" / "specs" / "images").is_dir()
    assert "[tool.pytest.ini_options]" in result.stdout and 'gradcam_specs = ["specs"]' in result.stdout
    text = example.read_text(encoding="utf-8")
    assert text.startswith("#") and "model: ../models/model.keras" in text
    # The example is a valid spec except for the files the user has yet to add (model and image).
    problems = parse_spec(example).all_problems
    assert problems and all("not found" in problem.message for problem in problems), [problem.format() for problem in problems]


def test_init_refuses_to_overwrite_an_existing_example(tmp_path: Path) -> None:
    assert run_cli("init", tmp_path).returncode == 0
    example = tmp_path / "specs" / "example.yaml"
    example.write_text("# edited by the user\n", encoding="utf-8")
    result = run_cli("init", tmp_path)
    assert_clean_error(result, "example.yaml exists", "never overwrites")
    assert result.returncode == 2
    assert example.read_text(encoding="utf-8") == "# edited by the user\n"


def test_init_defaults_to_the_working_directory(tmp_path: Path) -> None:
    assert run_cli("init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "specs" / "example.yaml").is_file()
