"""`gradcam-audit explain` on the shipped stripes model: overlay written, prediction, layer, mass and lift printed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.cli.conftest import REPOSITORY, assert_clean_error, run_cli, run_cli_subprocess

MODEL = REPOSITORY / "models" / "stripes_honest.keras"
IMAGES = REPOSITORY / "specs" / "images"
COMMON = ("--model", MODEL, "--labels", "horizontal,vertical", "--preprocess", "scale01")


def test_explain_one_image_writes_the_overlay_and_prints_mass_and_lift(tmp_path: Path) -> None:
    from PIL import Image

    output = tmp_path / "out" / "overlay.png"
    # stripes-0000 is horizontal stripes in [27, 30, 43, 46] and a corner tag in [2, 2, 9, 9] (specs/stripes_honest.yaml).
    result = run_cli("explain", IMAGES / "stripes-0000.png", *COMMON, "--box", "27,30,43,46", "--box", "2,2,9,9", "-o", output)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    with Image.open(output) as picture:
        assert picture.format == "PNG" and min(picture.size) >= 64
    assert re.search(r"predicted: horizontal \(p=0\.9\d\d|predicted: horizontal \(p=1\.000", result.stdout), result.stdout
    assert re.search(r"layer: conv3 \(auto: .+\)", result.stdout), result.stdout
    masses = [float(value) for value in re.findall(r"mass (\d\.\d+), lift", result.stdout)]
    lifts = [float(value) for value in re.findall(r"lift (\d+\.\d+)", result.stdout)]
    assert len(masses) == 2, result.stdout
    # The honest model looks at the stripes, not at the corner tag.
    assert masses[0] > 0.15 and lifts[0] > 2.0
    assert masses[1] < 0.04


def test_explain_a_folder_writes_one_overlay_per_image_with_progress(tmp_path: Path) -> None:
    folder = tmp_path / "few"
    folder.mkdir()
    for name in ("stripes-0000.png", "stripes-0001.png", "stripes-0002.png"):
        shutil.copy(IMAGES / name, folder / name)
    result = run_cli("explain", folder, *COMMON, "--target", "vertical", "-o", tmp_path / "overlays")
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (tmp_path / "overlays").iterdir()) == [
        "stripes-0000.overlay.png", "stripes-0001.overlay.png", "stripes-0002.overlay.png"]
    assert result.stdout.count("explained: vertical") == 3
    assert "[3/3]" in result.stderr


def test_explain_usage_mistakes_exit_2_before_loading_the_model(tmp_path: Path) -> None:
    # A fresh process: the answer comes before TensorFlow is imported.
    bad_box = run_cli_subprocess("explain", IMAGES / "stripes-0000.png", *COMMON, "--box", "30,30,10,40", "-o", tmp_path / "o.png")
    assert_clean_error(bad_box, "--box", "x_min must be < x_max")
    assert bad_box.returncode == 2
    missing = run_cli_subprocess("explain", tmp_path / "nope.png", *COMMON, "-o", tmp_path / "o.png")
    assert_clean_error(missing, "nope.png: not found")
    assert missing.returncode == 2


def _model_with_a_structured_input(path: Path, structure: str) -> Path:
    """A small CNN built with its one input as a one-item list or a one-key dict (Keras 2 exports, named inputs)."""
    import keras

    # Seeded: with some random weights the map is all negative (degenerate) and `explain` rightly exits 1, which is
    # not what these tests are about.
    keras.utils.set_random_seed(0)
    image = keras.Input((32, 32, 3), name="image")
    features = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(image)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(features))
    keras.Model([image] if structure == "list" else {"image": image}, outputs).save(path)
    return path


def test_explain_prints_no_tensorflow_start_up_lines_nor_keras_input_structure_warnings(tmp_path: Path) -> None:
    # A fresh process, as a user runs it, at the log level many tutorials set (2 still lets E0000 cuInit through), with
    # a model whose input is a one-key dict: called with a bare batch, Keras warns on every trace.
    import os
    import subprocess
    import sys

    model = _model_with_a_structured_input(tmp_path / "named_input.keras", "dict")
    completed = subprocess.run(
        [sys.executable, "-m", "gradcam_audit.cli.main", "explain", str(IMAGES / "stripes-0000.png"), "--model", str(model),
         "--preprocess", "scale01", "-o", str(tmp_path / "out.png")],
        capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "predicted" in completed.stdout
    for noise in ("structure of `inputs`", "UserWarning", "E0000", "cuInit", "cudart", "absl", "cpu_feature_guard"):
        assert noise not in completed.stderr, completed.stderr


def test_explaining_a_model_with_a_list_or_dict_input_raises_no_keras_warning(tmp_path: Path) -> None:
    import warnings

    import keras

    from gradcam_audit.core.engine.explain import explain

    for structure in ("list", "dict"):
        model = keras.saving.load_model(_model_with_a_structured_input(tmp_path / f"{structure}.keras", structure), safe_mode=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (explanation,) = explain(model, [IMAGES / "stripes-0000.png"], preprocess="scale01")
        assert explanation.heatmap_full.shape == (64, 64)
        assert [str(warning.message) for warning in caught if "structure of `inputs`" in str(warning.message)] == [], structure
