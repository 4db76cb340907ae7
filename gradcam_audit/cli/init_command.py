"""`gradcam-audit init [DIR]`: scaffold an audit that passes on its first run, or a commented spec for your model.

Without --model, DIR gets a starter kit: a tiny model (the shipped honest stripes classifier), four images and a
spec, so `pytest --gradcam-specs specs/` passes at once and shows what a real audit looks like; then swap in your
model and images. With --model, DIR gets the commented example spec pointing at it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gradcam_audit.cli.common import EXIT_OK, HelpFormatter, UsageError

EXAMPLE_NAME = "example.yaml"

EXAMPLE_SPEC = """\
# An attention audit: each case is one image, and the Grad-CAM heatmap of the target class must put
# its mass inside the regions you draw. Run it with:  pytest --gradcam-specs specs
# Every key is explained in the README's spec reference; `gradcam-audit validate specs` checks this file.

model: MODEL_PATH                        # relative to this file (.keras or .h5)
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

STARTER_SPEC = """\
# A starter audit that passes as it is: a tiny classifier of horizontal vs vertical stripes, four images,
# and where it must look (the stripes) and must not (a small tag in the corner). Run it with:
#     pytest --gradcam-specs specs/
# Then make it yours: put your model in models/, your images in specs/images/, and edit the keys below
# (every key is explained in the README's spec reference; `gradcam-audit validate specs` checks this file).

model: ../models/starter.keras           # relative to this file (.keras or .h5)
preprocess: scale01                      # how 0-255 pixels become input: scale01, none, xception, resnet50, ...
labels: [horizontal, vertical]           # class names in the model's output order
layer: auto                              # or the name of a convolutional layer
method: gradcam

defaults:
  min_lift: 2.0                          # mass inside ÷ area share of the region; 1.0 is chance level

cases:
  - id: stripes-0000                     # becomes the pytest test id: specs/starter.yaml::stripes-0000
    image: images/stripes-0000.png       # relative to this file
    target: horizontal                   # the class to explain (default: the predicted class)
    expect_class: horizontal             # the model must also predict it: right class, right reason
    regions:
      - {name: stripes, box: [27, 30, 43, 46], min_mass: 0.15}      # [x_min, y_min, x_max, y_max] in pixels
      - {name: corner-tag, box: [2, 2, 9, 9], max_mass: 0.04}       # a forbidden region: at most 4 % there
  - id: stripes-0001
    image: images/stripes-0001.png
    target: vertical
    expect_class: vertical
    regions:
      - {name: stripes, box: [39, 41, 58, 60], min_mass: 0.15}
      - {name: corner-tag, box: [2, 2, 9, 9], max_mass: 0.04}
  - id: stripes-0002
    image: images/stripes-0002.png
    target: vertical
    expect_class: vertical
    regions:
      - {name: stripes, box: [36, 24, 52, 40], min_mass: 0.15}
      - {name: corner-tag, box: [2, 2, 9, 9], max_mass: 0.04}
  - id: stripes-0003
    image: images/stripes-0003.png
    target: horizontal
    expect_class: horizontal
    regions:
      - {name: stripes, box: [2, 12, 24, 34], min_mass: 0.15}
      - {name: corner-tag, box: [2, 2, 9, 9], max_mass: 0.04}

gate:
  min_pass_rate: 0.9                     # the suite fails below 90 % passing cases
"""

STARTER_NAME = "starter.yaml"

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
    parser.add_argument("--model", type=Path, metavar="FILE",
                        help="your model (relative to DIR): write a commented example spec for it instead of the starter kit")
    parser.set_defaults(handler=run)


def _model_line(model_from_specs: str) -> str:
    """The spec's `model:` line, written by the YAML emitter (a path may hold any character)."""
    import yaml

    return yaml.safe_dump({"model": model_from_specs}, default_flow_style=False, allow_unicode=True).strip()


def _starter(project: Path) -> list[Path]:
    """Copy the starter model and images (package data) and write the starter spec; never overwrites."""
    import shutil
    from importlib import resources

    scaffold = resources.files("gradcam_audit.scaffold")
    targets = [project / "specs" / STARTER_NAME, project / "models" / "starter.keras",
               *(project / "specs" / "images" / f"stripes-{number:04d}.png" for number in range(4))]
    existing = [target for target in targets if target.exists()]
    if existing:
        raise UsageError(f"{existing[0]} exists; init never overwrites files (delete it or choose another DIR)")
    (project / "models").mkdir(parents=True, exist_ok=True)
    (project / "specs" / "images").mkdir(parents=True, exist_ok=True)
    with resources.as_file(scaffold / "starter.keras") as model:
        shutil.copyfile(model, targets[1])
    for number in range(4):
        with resources.as_file(scaffold / "images" / f"stripes-{number:04d}.png") as image:
            shutil.copyfile(image, targets[2 + number])
    targets[0].write_text(STARTER_SPEC, encoding="utf-8")
    return targets


def run(arguments: argparse.Namespace) -> int:
    import os

    project: Path = arguments.directory
    if project.exists() and not project.is_dir():
        raise UsageError(f"{project} is a file, not a folder")
    specs = project / "specs"
    if arguments.model is None:
        written = _starter(project)
        print(f"wrote {written[0]}, {written[1]} and 4 images in {specs / 'images'}/")
        print(f"next: cd {project} && pytest --gradcam-specs specs/    (it passes; then swap in your model and images)")
    else:
        example = specs / EXAMPLE_NAME
        if example.exists():
            raise UsageError(f"{example} exists; init never overwrites files (delete it or choose another DIR)")
        model_from_specs = Path(os.path.relpath(project / arguments.model, specs)).as_posix()
        (specs / "images").mkdir(parents=True, exist_ok=True)
        example.write_text(EXAMPLE_SPEC.replace("model: MODEL_PATH", _model_line(model_from_specs), 1),
                           encoding="utf-8")
        print(f"wrote {example} and {specs / 'images'}/")
        print("next: put your images in place, edit the example, then run `gradcam-audit validate specs`.")
    print("Add to pyproject.toml so a plain `pytest` runs the audits:\n")
    print(PYPROJECT_SNIPPET)
    return EXIT_OK
