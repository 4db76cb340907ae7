"""`gradcam-audit import FORMAT SOURCE`: a labelling tool's export → a spec file that validates."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from gradcam_audit.cli.common import (
    EXIT_OK,
    HelpFormatter,
    UsageError,
    add_labels_options,
    comma_list,
    fraction,
    non_negative,
    package_version,
    read_labels,
)

UNANNOTATED_SHOWN = 20

_FORMAT_HELP = {
    "coco": ("COCO detection JSON (images[], annotations[] with bbox [x, y, width, height], categories[])",
             "annotations.json", "the COCO JSON file"),
    "voc": ("Pascal VOC XML, one file per image (1-based inclusive <bndbox> corners)",
            "Annotations/", "folder of .xml files (or VOCdevkit/VOC2012 holding Annotations/)"),
    "yolo": ("YOLO .txt labels, one per image: 'class cx cy w h' normalised to [0, 1]",
             "labels/train", "folder of .txt label files"),
    "labelme": ("labelme JSON, one per image (rectangle and polygon shapes)", "labelme/", "folder of labelme .json files"),
}

_EPILOG = """\
Each image becomes one case (one per target class when it shows several classes; one per object with
--per-object); each object becomes a region named after its category. Required regions share the
thresholds written under `defaults:`; --forbid categories become forbidden regions with max_mass.
Images without annotations get no case: they are listed on stderr and in a comment of the spec.
The spec is checked with the loader before it is written; paths in it are relative to its folder.

examples:
  gradcam-audit import coco data/instances_val.json --images data/val --model models/kitchen.keras \\
      --labels-file models/labels.txt --forbid watermark --out specs/kitchen.yaml
  gradcam-audit import voc VOCdevkit/VOC2012 --model m.keras --labels cat,dog --map person=human -o specs/voc.yaml
  gradcam-audit import yolo data/labels/val --classes data/classes.txt --model m.keras -o specs/yolo.yaml
  gradcam-audit import labelme shots/ --model m.keras --labels mug,plate --per-object -o specs/shots.yaml
"""


def add_parser(subcommands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subcommands.add_parser(
        "import",
        help="turn a labelling tool's export (COCO, VOC, YOLO, labelme) into a spec file",
        description="Turn a labelling tool's export into a spec file that validates.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    for name, (summary, example, source_help) in _FORMAT_HELP.items():
        format_parser = formats.add_parser(name, help=summary, description=summary + ".", epilog=_EPILOG, formatter_class=HelpFormatter)
        format_parser.add_argument("source", type=Path, metavar="SOURCE", help=f"{source_help}, e.g. {example}")
        if name == "yolo":
            format_parser.add_argument("--classes", type=Path, metavar="FILE",
                             help="class names, one per line, line 1 = class 0 (default: classes.txt in SOURCE)")
        _add_common_options(format_parser)
        format_parser.set_defaults(handler=run)


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=Path, metavar="DIR", help="folder the image names are relative to (default: coco: the JSON's folder; voc: JPEGImages/ beside Annotations/; yolo: images/ beside labels/; labelme: as imagePath says)")
    parser.add_argument("--model", type=Path, required=True, metavar="FILE", help="the model to audit (.keras/.h5)")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="SPEC", help="spec file to write, e.g. specs/val.yaml")
    add_labels_options(parser)
    parser.add_argument("--map", action="append", default=[], metavar="CATEGORY=LABEL",
                        help="rename a category to the model's label (repeatable, or comma-separated)")
    parser.add_argument("--forbid", action="append", default=[], metavar="A,B",
                        help="categories that become forbidden regions (max_mass), never targets (repeatable)")
    parser.add_argument("--ignore", action="append", default=[], metavar="A,B", help="categories to leave out (repeatable)")
    parser.add_argument("--min-lift", type=non_negative, default=1.5, metavar="X",
                        help="least lift of every required region, default %(default)s (0: no lift check, then give --min-mass)")
    parser.add_argument("--min-mass", type=fraction, default=None, metavar="F", help="least heatmap mass inside every required region")
    parser.add_argument("--max-mass", type=fraction, default=0.05, metavar="F", help="largest heatmap mass allowed inside forbidden regions, default %(default)s")
    parser.add_argument("--per-object", action="store_true", help="one case per object instead of one per image and class")
    parser.add_argument("--no-expect-class", action="store_true", help="do not require the prediction to be the annotated class")
    parser.add_argument("--preprocess", metavar="NAME", help="preprocessing written into the spec (scale01, xception, ...)")
    parser.add_argument("--clip-boxes", action="store_true", help="cut boxes that stick out of the image instead of failing")
    parser.add_argument("--no-check-model", action="store_true", help="write the spec even if the model file does not exist yet")
    parser.add_argument("--force", action="store_true", help="overwrite the spec file if it exists")


def _renames(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for value in values:
        for item in comma_list(value):
            old, separator, new = item.partition("=")
            if not separator or not old.strip() or not new.strip():
                raise UsageError(f"--map {item!r}: expected CATEGORY=LABEL, e.g. --map person=human")
            pairs.append((old.strip(), new.strip()))
    return tuple(pairs)


def run(arguments: argparse.Namespace) -> int:
    from gradcam_audit.core.annotations import ImportOptions, Provenance, plan_import, read_annotations, render_spec, write_spec
    from gradcam_audit.core.spec.load import display_path

    if not arguments.source.exists():
        raise UsageError(f"{arguments.source}: not found (the {arguments.format} export to import)")
    if arguments.images is not None and not arguments.images.is_dir():
        raise UsageError(f"--images {arguments.images}: not a folder")
    if not arguments.no_check_model and not arguments.model.exists():
        raise UsageError(f"--model {arguments.model}: not found; give the model file, or --no-check-model to write the spec anyway")
    min_lift = arguments.min_lift or None
    if min_lift is None and arguments.min_mass is None:
        raise UsageError("--min-lift 0 turns the lift check off: give --min-mass then, or required regions could never fail")
    labels = read_labels(arguments)
    options = ImportOptions(
        labels=labels,
        labels_file=arguments.labels_file if labels is not None and arguments.labels_file is not None else None,
        renames=_renames(arguments.map),
        forbidden=tuple(name for value in arguments.forbid for name in comma_list(value)),
        ignored=tuple(name for value in arguments.ignore for name in comma_list(value)),
        min_lift=min_lift,
        min_mass=arguments.min_mass,
        max_mass=arguments.max_mass,
        per_object=arguments.per_object,
        expect_class=not arguments.no_expect_class,
    )
    annotations = read_annotations(arguments.format, arguments.source, images_dir=arguments.images,
                                   classes=getattr(arguments, "classes", None), clip=arguments.clip_boxes)
    plan = plan_import(annotations, options)
    if not plan.cases:
        raise UsageError(f"{display_path(arguments.source)}: no annotated objects to turn into cases "
                         f"({len(plan.unannotated)} image(s) without annotations)")
    provenance = Provenance(
        tool=f"gradcam-audit {package_version()} (import {arguments.format})",
        source=arguments.source,
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        command=arguments.command_line,
    )
    text = render_spec(plan, arguments.out, arguments.model, provenance, preprocess=arguments.preprocess)
    written = write_spec(text, arguments.out, check_model=not arguments.no_check_model, overwrite=arguments.force)

    for note in plan.notes:
        print(f"warning: {note}", file=sys.stderr)
    if plan.labels_from_annotations:
        print(f"warning: no --labels given: labels [{', '.join(plan.labels)}] were taken from the annotations; "
              "check they are in the model's output order", file=sys.stderr)
    if plan.unannotated:
        print(f"warning: {len(plan.unannotated)} image(s) have no annotations and got no case:", file=sys.stderr)
        for image in plan.unannotated[:UNANNOTATED_SHOWN]:
            print(f"  {display_path(image.image)}", file=sys.stderr)
        if len(plan.unannotated) > UNANNOTATED_SHOWN:
            print(f"  ... and {len(plan.unannotated) - UNANNOTATED_SHOWN} more (listed at the top of the spec)", file=sys.stderr)
    objects = sum(len(case.regions) for case in plan.cases)
    print(f"wrote {display_path(written)}: {len(plan.cases)} case(s), {objects} region(s) from "
          f"{len(annotations.images) - len(plan.unannotated)} annotated image(s) of {display_path(arguments.source)}")
    print(f"next: gradcam-audit validate {display_path(written)}  then  pytest --gradcam-specs {display_path(written)}")
    return EXIT_OK
