"""`gradcam-audit init [DIR]`: scaffold specs/ with one commented example spec."""

from __future__ import annotations

import argparse
from pathlib import Path

from gradcam_audit.cli.common import EXIT_OK, HelpFormatter, UsageError

EXAMPLE_NAME = "example.yaml"

EXAMPLE_SPEC = """\
# An attention audit: each case is one image, and the Grad-CAM heatmap of the target class must put
# its mass inside the regions you draw. Run it with:  pytest --gradcam-specs specs
# Every key is explained in the README's spec reference; `gradcam-audit validate specs` checks this file.

model: {model}              # relative to this file (.keras or .h5)
preprocess: scale01                      # how 0-255 pixels become input: scale01, none, xception, resnet50, ...
labels: [cat, dog]                       # class names in the model's output order
layer: auto                              # or the name of a convolutional layer
method: gradcam                          # or [gradcam, gradcam++] to run every case with both

defaults:
  min_lift: 1.5                          # mass inside ÷ area share of the region; 1.0 is chance level

cases:
  - id: cat-0001                         # becomes the pytest test id
    image: images/cat-0001.jpg           # relative to this file
    target: cat                          # the class to explain (default: the predicted class)
    expect_class: cat                    # the model must also predict it: right class, right reason
    tags: [cats]                         # pytest markers: pytest -m cats
    regions:
      - name: cat
        box: [40, 30, 210, 200]          # [x_min, y_min, x_max, y_max] in pixels of the original image
        min_mass: 0.4                    # at least 40 % of the heatmap inside
      - name: watermark
        box: [0, 0, 60, 20]
        max_mass: 0.05                   # a forbidden region: at most 5 % of the heatmap there

gate:
  min_pass_rate: 0.9                     # the suite fails below 90 % passing cases

# Have boxes in a labelling tool already? `gradcam-audit import coco|voc|yolo|labelme --help`
"""

PYPROJECT_SNIPPET = """\
[tool.pytest.ini_options]
gradcam_specs = ["specs"]"""


def add_parser(subcommands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subcommands.add_parser(
        "init",
        help="scaffold specs/ with a commented example spec",
        description="Create DIR/specs/example.yaml (a commented example) and DIR/specs/images/, "
        "and print the pyproject.toml lines that make pytest find the specs. Never overwrites a file.",
        epilog="examples:\n  gradcam-audit init\n  gradcam-audit init my-project --model models/classifier.keras",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("directory", nargs="?", type=Path, default=Path("."), metavar="DIR", help="project folder")
    parser.add_argument("--model", type=Path, metavar="FILE", help="model path to put in the example (relative to DIR)",
                        default=Path("models/model.keras"))
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    import os

    project: Path = arguments.directory
    if project.exists() and not project.is_dir():
        raise UsageError(f"{project} is a file, not a folder")
    specs = project / "specs"
    example = specs / EXAMPLE_NAME
    if example.exists():
        raise UsageError(f"{example} exists; init never overwrites files (delete it or choose another DIR)")
    model_from_specs = Path(os.path.relpath(project / arguments.model, specs)).as_posix()
    (specs / "images").mkdir(parents=True, exist_ok=True)
    example.write_text(EXAMPLE_SPEC.format(model=model_from_specs), encoding="utf-8")
    print(f"wrote {example} and {specs / 'images'}/")
    print("next: put your model and images in place, edit the example, then run `gradcam-audit validate specs`.")
    print("Add to pyproject.toml so a plain `pytest` runs the audits:\n")
    print(PYPROJECT_SNIPPET)
    return EXIT_OK
