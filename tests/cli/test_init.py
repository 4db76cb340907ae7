"""`gradcam-audit init`: a starter audit that passes on its first run, or a commented spec for your model; never
overwriting."""

from __future__ import annotations

import sys
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


# --- init --model reads the model ----------------------------------------------------------------------------------


def _five_class_model_with_its_own_rescaling(path: Path) -> Path:
    import keras

    inputs = keras.Input((48, 48, 3))
    scaled = keras.layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    features = keras.layers.Conv2D(8, 3, activation="relu", name="conv_a")(scaled)
    features = keras.layers.Conv2D(8, 3, activation="relu", name="conv_b")(features)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(5, activation="softmax", name="predictions")(pooled)
    path.parent.mkdir(parents=True, exist_ok=True)
    keras.Model(inputs, outputs).save(path)
    return path


def _written_spec(project: Path) -> tuple[str, dict[str, object]]:
    text = (project / "specs" / "example.yaml").read_text(encoding="utf-8")
    return text, yaml.safe_load(text)


def test_init_reads_a_five_class_model_that_rescales_its_own_input(tmp_path: Path) -> None:
    from tests.cli.conftest import write_image

    project = tmp_path / "project"
    _five_class_model_with_its_own_rescaling(project / "models" / "five.keras")
    result = run_cli("init", project, "--model", "models/five.keras")
    assert result.returncode == 0, result.stderr
    text, spec = _written_spec(project)
    assert spec["labels"] == ["class_0", "class_1", "class_2", "class_3", "class_4"]
    assert spec["preprocess"] == "none"
    assert spec["layer"] == "auto" and "resolves to conv_b" in text
    # What was found is printed and written as comments, each with why.
    for fragment in ("input: 48×48×3", "classes: 5", "Rescaling layer 'rescale'", "layer: conv_b (auto: last layer"):
        assert fragment in result.stdout, result.stdout
        assert fragment in text, text
    # Once the user adds the image, the spec is valid, deep checks (model loaded: layer, labels, outputs) included.
    write_image(project / "specs" / "images" / "example-0001.jpg", (256, 256))
    assert parse_spec(project / "specs" / "example.yaml").all_problems == ()
    validated = run_cli("validate", project / "specs", "--deep")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "no problems" in validated.stdout


def test_init_names_the_keras_applications_family_of_a_model(tmp_path: Path) -> None:
    import keras

    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    keras.applications.MobileNetV2(weights=None, input_shape=(64, 64, 3), classes=3).save(project / "models" / "mobile.keras")
    result = run_cli("init", project, "--model", "models/mobile.keras")
    assert result.returncode == 0, result.stderr
    text, spec = _written_spec(project)
    assert spec["preprocess"] == "mobilenet_v2"
    assert spec["labels"] == ["class_0", "class_1", "class_2"]
    assert "keras.applications MobileNetV2" in result.stdout and "keras.applications MobileNetV2" in text
    assert "layer: out_relu" in result.stdout


def test_init_says_when_it_cannot_tell_the_preprocessing_and_how_to_choose(tmp_path: Path) -> None:
    import keras

    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3, name="features"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4)])
    model.save(project / "models" / "custom.keras")
    result = run_cli("init", project, "--model", "models/custom.keras")
    assert result.returncode == 0, result.stderr
    text, spec = _written_spec(project)
    assert "could not tell" in result.stdout and "could not tell" in text
    assert "How to choose `preprocess`" in text and "x / 255 → scale01" in text
    assert "GUESS" in text
    assert len(spec["labels"]) == 4  # type: ignore[arg-type]


def test_init_spec_pairs_every_forbidden_region_with_a_max_effect(tmp_path: Path) -> None:
    starter = run_cli("init", tmp_path / "starter")
    with_model = run_cli("init", tmp_path / "first", "--model", "models/not-there-yet.keras")
    assert starter.returncode == 0 and with_model.returncode == 0, starter.stderr + with_model.stderr
    for spec_path in (tmp_path / "starter" / "specs" / "starter.yaml", tmp_path / "first" / "specs" / "example.yaml"):
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
        forbidden = [region for case in spec["cases"] for region in case["regions"] if "max_mass" in region]
        assert forbidden, spec_path
        assert all("max_effect" in region for region in forbidden), spec_path


def test_init_help_names_exactly_the_files_each_mode_writes(tmp_path: Path) -> None:
    import re

    help_text = " ".join(run_cli("init", "--help").stdout.split())
    named = set(re.findall(r"DIR/[\w/.]+\w", help_text))
    assert run_cli("init", tmp_path / "starter").returncode == 0
    assert run_cli("init", tmp_path / "first", "--model", "models/m.keras").returncode == 0
    written = {"DIR/" + path.relative_to(tmp_path / mode).as_posix()
               for mode in ("starter", "first") for path in (tmp_path / mode).rglob("*") if path.is_file() or not any(path.iterdir())}
    # Each starter image is named by its folder; every other file by its path.
    written = {re.sub(r"DIR/specs/images/.*", "DIR/specs/images", path) for path in written}
    assert named == written, (named, written)


def test_init_with_an_unloadable_model_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "broken.keras").write_bytes(b"not a zip archive")
    result = run_cli("init", project, "--model", "models/broken.keras")
    assert_clean_error(result, "broken.keras", "not a valid Keras archive")
    assert not (project / "specs" / "example.yaml").exists()


def test_init_with_a_model_prints_no_tensorflow_start_up_lines(tmp_path: Path) -> None:
    # A fresh process, as a user runs it, with TF_CPP_MIN_LOG_LEVEL unset (TensorFlow's default shows its start-up
    # lines: cudart, cuInit, cpu_feature_guard, oneDNN). `explain` at the level many tutorials set (2 still shows
    # E0000 cuInit lines): tests/cli/test_explain.py. Both commands go through cli/quiet.py.
    import os
    import subprocess

    from tests.cli.conftest import CONSOLE_SCRIPT

    project = tmp_path / "project"
    _five_class_model_with_its_own_rescaling(project / "models" / "five.keras")
    command = [str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists() else [sys.executable, "-m", "gradcam_audit.cli.main"]
    completed = subprocess.run([*command, "init", str(project), "--model", "models/five.keras"], capture_output=True, text=True,
                               env={key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"},
                               timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == "", completed.stderr
    assert "preprocess: none" in completed.stdout
