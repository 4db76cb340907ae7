"""validate_paths: every problem of every file, a one-line summary, and with deep=True the checks that need the model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gradcam_audit.core.validate import validate_paths
from tests.spec.helpers import REPOSITORY, VALID_SPEC, make_folder, marked_line, write_spec


def test_the_repository_specs_are_valid_without_importing_tensorflow() -> None:
    # In a fresh interpreter: this test process already imported TensorFlow (tests/conftest.py).
    program = (
        "import sys; from gradcam_audit.core.validate import validate_paths; "
        "report = validate_paths(['specs']); print(report.summary()); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow imported'; "
        "sys.exit(0 if report.ok else 1)"
    )
    completed = subprocess.run([sys.executable, "-c", program], cwd=REPOSITORY, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    # the CNN pair (24 cases each), the ViT pair (specs/vit/, 12 each), the segmenter and detector pairs (specs/tasks/, 12 each)
    assert completed.stdout.strip() == "ok: 8 spec file(s), 120 case(s), no problems"


def test_problems_of_all_files_are_collected_and_missing_paths_reported(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    write_spec(root, VALID_SPEC, name="good.yaml")
    write_spec(root, VALID_SPEC.replace("min_mass: 0.3", "min_mas: 0.3"), name="typo.yaml")
    write_spec(root / "nested", "resize: strech\n", name="_defaults.yaml")
    report = validate_paths([root, tmp_path / "absent"])
    assert report.files == 2 and report.cases == 4
    fields = sorted(problem.field for problem in report.problems)
    # The typo also leaves the region without a threshold: both are reported.
    assert fields == ["", "cases[0].regions[0]", "cases[0].regions[0].min_mas", "resize"]
    assert not report.ok and report.summary() == "4 problems in 3 file(s) of 2 spec file(s)"


def test_a_shared_defaults_file_is_reported_once(tmp_path: Path) -> None:
    root = make_folder(tmp_path)
    write_spec(root, "resize: strech\n", name="_defaults.yaml")
    write_spec(root, VALID_SPEC, name="one.yaml")
    write_spec(root, VALID_SPEC, name="two.yaml")
    report = validate_paths([root])
    assert [problem.field for problem in report.problems] == ["resize"]


def test_deep_checks_layer_labels_and_class_indices_against_the_model(tmp_path: Path) -> None:
    root = make_folder(tmp_path, real_model=True)
    good = write_spec(root, VALID_SPEC.replace("labels: [cat, dog]", "labels: [cat, dog]\nlayer: conv3"), name="good.yaml")
    bad = write_spec(root, """
        model: model.keras
        layer: conv9  # <-layer
        labels: [cat, dog, bird]  # <-labels
        cases:
          - id: a
            image: images/a.png
            target: bird
            regions: [{name: r, box: [1, 1, 9, 9], min_mass: 0.2}]
        """, name="bad.yaml")
    assert validate_paths([good], deep=True).ok
    report = validate_paths([bad], deep=True)
    problems = {problem.field: problem for problem in report.problems}
    assert set(problems) == {"layer", "labels"}
    assert problems["layer"].line == marked_line(bad, "# <-layer")
    assert "has no layer 'conv9'" in problems["layer"].message and "conv3" in problems["layer"].message
    assert problems["labels"].line == marked_line(bad, "# <-labels")
    assert "got 3 labels but the model's output has 2 classes" in problems["labels"].message
    assert all(problem.fix for problem in report.problems)


def test_deep_reports_class_indices_beyond_the_output_and_cropped_regions(tmp_path: Path) -> None:
    root = make_folder(tmp_path, real_model=True)
    path = write_spec(root, """
        model: model.keras
        resize: center_crop
        cases:
          - id: a
            image: images/a.png
            target: 5  # <-target
            regions: [{name: r, box: [0, 0, 5, 40], min_mass: 0.2}]  # <-box
        """)
    report = validate_paths([path], deep=True)
    problems = {problem.field: problem for problem in report.problems}
    assert set(problems) == {"cases[0].target", "cases[0].regions[0].box"}
    assert problems["cases[0].target"].line == marked_line(path, "# <-target")
    assert "centre crop" in problems["cases[0].regions[0].box"].message
