"""`gradcam-audit init`: a starter audit that passes on its first run, or a commented spec for your model; never
overwriting."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gradcam_audit.core.spec.load import parse_spec
from tests.cli.conftest import assert_clean_error, run_cli


def test_init_scaffolds_an_audit_that_passes_on_its_first_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # In this process: both steps would otherwise start TensorFlow in a subprocess of their own (init builds the
    # starter model). test_init_defaults_to_the_working_directory runs the console script itself.
    project = pytester.path / "project"
    result = run_cli("init", project)
    assert result.returncode == 0, result.stderr
    assert (project / "models" / "starter.keras").is_file() and len(list((project / "specs" / "images").glob("*.png"))) == 4
    assert "[tool.pytest.ini_options]" in result.stdout and 'gradcam_specs = ["specs"]' in result.stdout
    assert parse_spec(project / "specs" / "starter.yaml").all_problems == ()
    monkeypatch.chdir(project)
    audit = pytester.runpytest("--gradcam-specs", "specs/", "-p", "no:cacheprovider")
    assert audit.ret == 0, audit.stdout.str()[-3000:]
    audit.assert_outcomes(passed=5)  # 4 cases and the gate
    audit.stdout.fnmatch_lines(["*gradcam audit PASSED: 4 passed; gates: 1 passed*"])


def test_init_with_a_model_writes_a_commented_spec_whose_path_goes_through_the_yaml_emitter(tmp_path: Path) -> None:
    result = run_cli("init", tmp_path / "project", "--model", "models/a: b #c.keras")
    assert result.returncode == 0, result.stderr
    example = tmp_path / "project" / "specs" / "example.yaml"
    text = example.read_text(encoding="utf-8")
    assert text.startswith("#")
    assert yaml.safe_load(text)["model"] == "../models/a: b #c.keras"
    # The example is a valid spec except for the files the user has yet to add (model and image).
    problems = parse_spec(example).all_problems
    assert problems and all("not found" in problem.message for problem in problems), [problem.format() for problem in problems]


def test_init_refuses_to_overwrite_an_existing_file(tmp_path: Path) -> None:
    assert run_cli("init", tmp_path).returncode == 0
    spec = tmp_path / "specs" / "starter.yaml"
    spec.write_text("# edited by the user\n", encoding="utf-8")
    result = run_cli("init", tmp_path)
    assert_clean_error(result, "starter.yaml exists", "never overwrites")
    assert result.returncode == 2
    assert spec.read_text(encoding="utf-8") == "# edited by the user\n"


def test_init_defaults_to_the_working_directory(tmp_path: Path) -> None:
    assert run_cli("init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "specs" / "starter.yaml").is_file()
