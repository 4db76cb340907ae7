"""`gradcam-audit init [DIR]`: scaffold an audit that passes on its first run, or a commented spec for your model.

Without --model, DIR gets a starter kit: a tiny model (the shipped honest stripes classifier), four images and a
spec, so `pytest --gradcam-specs specs/` passes at once and shows what a real audit looks like; then swap in your
model and images. With --model, the model is read (core/annotations/model_facts.py) and DIR gets a first spec with what was
found, commented (core/annotations/first_spec.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from gradcam_audit.cli.common import EXIT_OK, HelpFormatter, UsageError
from gradcam_audit.cli.quiet import silence_tensorflow

if TYPE_CHECKING:
    from gradcam_audit.core.annotations.model_facts import ModelFacts

EXAMPLE_NAME = "example.yaml"

STARTER_SPEC = """\
# A starter audit that passes as it is: a tiny classifier of horizontal vs vertical stripes, four images,
# and where it must look (the stripes) and must not (a small tag in the corner). Run it with:
#     pytest --gradcam-specs specs/
# Then make it yours: put your model in models/, your images in specs/images/, and edit the keys below
# (every key is explained in the spec reference (docs/reference/spec.md); `gradcam-audit validate specs` checks this file).

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
      - {name: corner-tag, box: [2, 2, 9, 9], max_mass: 0.04, max_effect: 0.1}
      # corner-tag is a forbidden region: at most 4 % of the heatmap there, and removing it lowers p(target) by at
      # most 0.1 (a heatmap can look clean while the model depends on the region; max_effect checks that it does not)
  - id: stripes-0001
    image: images/stripes-0001.png
    target: vertical
    expect_class: vertical
    regions:
      - {name: stripes, box: [39, 41, 58, 60], min_mass: 0.15}
      - {name: corner-tag, box: [2, 2, 9, 9], max_mass: 0.04, max_effect: 0.1}
  - id: stripes-0002
    image: images/stripes-0002.png
    target: vertical
    expect_class: vertical
    regions:
      - {name: stripes, box: [36, 24, 52, 40], min_mass: 0.15}
      - {name: corner-tag, box: [2, 2, 9, 9], max_mass: 0.04, max_effect: 0.1}
  - id: stripes-0003
    image: images/stripes-0003.png
    target: horizontal
    expect_class: horizontal
    regions:
      - {name: stripes, box: [2, 12, 24, 34], min_mass: 0.15}
      - {name: corner-tag, box: [2, 2, 9, 9], max_mass: 0.04, max_effect: 0.1}

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
        help="scaffold a starter audit, or a first spec read from your model",
        description="Without --model: write a starter audit that passes as it is: DIR/models/starter.keras,\n"
        "DIR/specs/starter.yaml and four images in DIR/specs/images/.\n"
        "With --model: read the model (loaded with safe_mode on) and write DIR/specs/example.yaml, a commented\n"
        "spec with its class count (or the class names the model carries), input size, preprocess (a\n"
        "keras.applications family, none when the model rescales or normalises its own input, or a guess it\n"
        "says is one) and the layer that `layer: auto` resolves to, each with why; it also creates\n"
        "DIR/specs/images/. What was found is printed too. A model file not there yet gets placeholders.\n"
        "Both print the pyproject.toml lines that make pytest find the specs. Never overwrites a file.",
        epilog="examples:\n  gradcam-audit init\n  gradcam-audit init my-project --model models/classifier.keras",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("directory", nargs="?", type=Path, default=Path("."), metavar="DIR", help="project folder")
    parser.add_argument("--model", type=Path, metavar="FILE",
                        help="your model (relative to DIR): read it and write specs/example.yaml for it instead of the starter kit")
    parser.set_defaults(handler=run)


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


def _first_spec(project: Path, model: Path, verbose: bool) -> None:
    """Read the model (when the file is there) and write the commented first spec; print what was found."""
    import os

    from gradcam_audit.core.annotations.first_spec import render_first_spec

    specs = project / "specs"
    example = specs / EXAMPLE_NAME
    if example.exists():
        raise UsageError(f"{example} exists; init never overwrites files (delete it or choose another DIR)")
    model_path = project / model
    model_from_specs = Path(os.path.relpath(model_path, specs)).as_posix()
    if model_path.is_file():
        if not verbose:
            silence_tensorflow()
        from gradcam_audit.core.annotations.model_facts import read_model_facts

        facts = read_model_facts(model_path)
        text = render_first_spec(model_from_specs, facts)
        print(f"read {model_path}:")
        print("\n".join(describe_facts(facts)))
    else:
        text = render_first_spec(model_from_specs, None, unread_reason=f"{model_path} was not found")
        print(f"{model_path} not found: the spec has placeholders for labels, preprocess and layer "
              "(run init again once the model is there to have them read from it)")
    (specs / "images").mkdir(parents=True, exist_ok=True)
    example.write_text(text, encoding="utf-8")
    print(f"wrote {example} and {specs / 'images'}/")
    print("next: put your images in place, edit the example, then run `gradcam-audit validate specs --deep`.")


def describe_facts(facts: ModelFacts) -> list[str]:
    """The lines init prints about the model: each finding and why."""
    preprocess = facts.preprocess
    lines = [f"  input: {facts.input_size}",
             f"  classes: {facts.num_classes} ({facts.classes_reason})",
             f"  labels: {', '.join(facts.labels[:8])}{', ...' if facts.num_classes > 8 else ''}",
             f"  preprocess: {preprocess.value} ({'' if preprocess.found else 'GUESS, check it: '}{preprocess.reason})",
             f"  layer: {facts.layer.value} ({facts.layer.reason})"]
    lines.extend(f"  note: {note}" for note in facts.notes)
    if not preprocess.found:
        lines.append("  how to choose preprocess: see the comments at the top of the spec")
    return lines


def run(arguments: argparse.Namespace) -> int:
    project: Path = arguments.directory
    if project.exists() and not project.is_dir():
        raise UsageError(f"{project} is a file, not a folder")
    specs = project / "specs"
    if arguments.model is None:
        written = _starter(project)
        print(f"wrote {written[0]}, {written[1]} and 4 images in {specs / 'images'}/")
        print(f"next: cd {project} && pytest --gradcam-specs specs/    (it passes; then swap in your model and images)")
    else:
        _first_spec(project, arguments.model, bool(getattr(arguments, "verbose", False)))
    print("Add to pyproject.toml so a plain `pytest` runs the audits:\n")
    print(PYPROJECT_SNIPPET)
    return EXIT_OK
