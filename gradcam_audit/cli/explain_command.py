"""`gradcam-audit explain IMAGE...`: one-off heatmaps for images, before writing any spec."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gradcam_audit.cli.common import EXIT_FAILED, EXIT_OK, HelpFormatter, Progress, UsageError, add_labels_options, read_labels
from gradcam_audit.cli.quiet import silence_tensorflow
from gradcam_audit.core.engine.methods import METHOD_NAMES
from gradcam_audit.core.engine.method_names import PREPROCESS_BUILTINS, PREPROCESS_FAMILIES, RESIZE_FILTERS, RESIZE_MODES
from gradcam_audit.errors import GradcamAuditError, ModelError

_EPILOG = """\
Prints, per image, the predicted class with its probability, the class explained, the layer used and
why it was chosen; with --box also the heatmap mass inside the box and its lift (mass ÷ area share;
1.0 is chance). Exit status 1 when a heatmap is degenerate (all zero, flat or non-finite).

examples:
  gradcam-audit explain photo.jpg --model models/kitchen.keras --labels-file labels.txt --preprocess xception -o photo.png
  gradcam-audit explain specs/images/stripes-0000.png --model models/stripes_honest.keras \\
      --labels horizontal,vertical --preprocess scale01 --box 27,30,43,46 -o overlay.png
  gradcam-audit explain specs/images/ --model m.keras --target cat --method gradcam++ -o overlays/
"""


def add_parser(subcommands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subcommands.add_parser(
        "explain",
        help="write Grad-CAM overlays for images and print what the model predicted and where it looked",
        description="Write Grad-CAM overlays for images and print what the model predicted and where it looked.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files, or folders of images")
    parser.add_argument("--model", type=Path, required=True, metavar="FILE", help="the model (.keras/.h5)")
    add_labels_options(parser)
    parser.add_argument("--preprocess", default="none", metavar="NAME",
                        help=f"how 0-255 pixels become input, default %(default)s: {', '.join((*PREPROCESS_BUILTINS, *PREPROCESS_FAMILIES))}")
    parser.add_argument("--resize", default="stretch", choices=RESIZE_MODES, help="how images are fitted to the model's input, default %(default)s")
    parser.add_argument("--resize-filter", default="bilinear", choices=RESIZE_FILTERS,
                        help="resampling filter when fitting (the model's training filter), default %(default)s")
    parser.add_argument("--target", metavar="CLASS", help="class to explain, by name (needs labels) or index (default: predicted)")
    parser.add_argument("--layer", default="auto", metavar="NAME", help="layer to explain, default %(default)s")
    parser.add_argument("--method", default="gradcam", choices=METHOD_NAMES, help="CAM method, default %(default)s")
    parser.add_argument("--box", action="append", default=[], metavar="X0,Y0,X1,Y1",
                        help="report mass and lift inside this box, in pixels of the original image (repeatable)")
    parser.add_argument("--batch-size", type=int, default=16, metavar="N", help="images per forward pass, default %(default)s")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="PATH",
                        help="overlay file (.png/.jpg) for one image; a folder for several images or a folder input")
    parser.set_defaults(handler=run)


def _parse_box(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(value) for value in text.replace(" ", "").split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise UsageError(f"--box {text!r}: expected four numbers x_min,y_min,x_max,y_max (pixels)")
    if not all(math.isfinite(value) for value in values):
        raise UsageError(f"--box {text!r}: every coordinate must be a finite number of pixels (not nan or inf)")
    x_min, y_min, x_max, y_max = values
    if x_max <= x_min or y_max <= y_min:
        raise UsageError(f"--box {text!r}: x_min must be < x_max and y_min < y_max (x_max/y_max exclusive)")
    return (x_min, y_min, x_max, y_max)


def _collect_images(paths: list[Path]) -> tuple[list[Path], bool]:
    """The image files, and whether a folder was given (then the output is a folder)."""
    from gradcam_audit.core.annotations.geometry import image_files

    images: list[Path] = []
    folder_given = False
    for path in paths:
        if path.is_dir():
            folder_given = True
            found = image_files(path)
            if not found:
                raise UsageError(f"{path}: no image files in this folder")
            images.extend(found)
        elif path.is_file():
            images.append(path)
        else:
            raise UsageError(f"{path}: not found")
    return images, folder_given


def _outputs(images: list[Path], out: Path, to_folder: bool) -> list[Path]:
    if not to_folder:
        if out.is_dir():
            return [out / f"{images[0].stem}.overlay.png"]
        if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
            raise UsageError(f"-o {out}: give an image file name ending in .png or .jpg (or an existing folder)")
        return [out]
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {out}: several images need a folder for their overlays, and this is a file")
    taken: set[str] = set()
    outputs = []
    for image in images:
        name, number = image.stem, 2
        while name in taken:
            name, number = f"{image.stem}-{number}", number + 1
        taken.add(name)
        outputs.append(out / f"{name}.overlay.png")
    return outputs


def _target(text: str | None) -> str | int | None:
    if text is None:
        return None
    return int(text) if text.isdigit() else text


def _class_name(index: int, labels: tuple[str, ...] | None) -> str:
    return labels[index] if labels is not None and 0 <= index < len(labels) else f"class {index}"


def _score_boxes(explanation: Any, boxes: list[tuple[float, float, float, float]]) -> tuple[list[Any], list[str]]:
    """(box, RegionScore) of the --box regions on one heatmap, and why any box was skipped."""
    from gradcam_audit.core.evaluate.regions import region_mask, region_outline
    from gradcam_audit.core.evaluate.scoring import score_region
    from gradcam_audit.core.spec.model import Region, Shape

    height, width = explanation.heatmap_full.shape
    scores, skipped = [], []
    for number, box in enumerate(boxes, start=1):
        if box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height:
            skipped.append(f"box {number} {list(box)} lies outside the image ({width}×{height} pixels)")
            continue
        shape = Shape("box", box=box)
        mask = region_mask(shape, (width, height))
        region = Region(name=f"box {number}", shape=shape)
        outline = region_outline(shape, (width, height), mask)
        scores.append((box, score_region(explanation.heatmap_full, mask, region, outline=outline)))
    return scores, skipped


def _write_overlay(image_path: Path, explanation: Any, scores: list[Any], output: Path, method: str) -> None:
    from gradcam_audit.core.files.images import read_rgb
    from gradcam_audit.core.records.results import CaseResult
    from gradcam_audit.rendering.pictures.overlay import case_pictures

    result = CaseResult(spec="explain", id=image_path.stem, method=method, verdict="passed", regions=tuple(score for _, score in scores))
    heatmap = None if explanation.degenerate else explanation.heatmap_full
    output.parent.mkdir(parents=True, exist_ok=True)
    pictures = case_pictures(result, read_rgb(image_path), heatmap)
    # Saved once, in the format the output's suffix names (no JPEG detour before a PNG).
    pictures.get("overlay", pictures["regions"]).save(output)


def _describe(image_path: Path, explanation: Any, scores: list[Any], skipped: list[str], output: Path,
              labels: tuple[str, ...] | None) -> list[str]:
    predicted = explanation.predicted_index
    lines = [f"{image_path} → {output}",
             f"  predicted: {_class_name(predicted, labels)} (p={float(explanation.probabilities[predicted]):.3f})"]
    target = explanation.target_index
    lines.append(f"  explained: {_class_name(target, labels)}" + (" (the predicted class)" if target == predicted else
                                                                  f" (p={float(explanation.probabilities[target]):.3f})"))
    lines.append(f"  layer: {explanation.layer} ({explanation.layer_reason})")
    if explanation.degenerate:
        lines.append(f"  heatmap degenerate: {explanation.degenerate}")
        return lines
    for box, score in scores:
        lines.append(f"  {score.name} [{', '.join(f'{value:g}' for value in box)}]: "
                     f"mass {score.mass:.3f}, lift {score.lift:.2f} (covers {score.area_share:.1%} of the image)")
    lines.extend(f"  skipped: {reason}" for reason in skipped)
    return lines


def run(arguments: argparse.Namespace) -> int:
    if arguments.preprocess not in (*PREPROCESS_BUILTINS, *PREPROCESS_FAMILIES):
        raise UsageError(f"--preprocess {arguments.preprocess!r}: expected one of "
                         f"{', '.join((*PREPROCESS_BUILTINS, *PREPROCESS_FAMILIES))}")
    if arguments.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if not arguments.model.is_file():
        raise UsageError(f"--model {arguments.model}: not found")
    boxes = [_parse_box(text) for text in arguments.box]
    labels = read_labels(arguments)
    images, folder_given = _collect_images(arguments.images)
    outputs = _outputs(images, arguments.out, folder_given or len(images) > 1)
    if not arguments.verbose:
        silence_tensorflow()
    from gradcam_audit.core.run.kept_warnings import WarningLog, keep_warnings

    kept = WarningLog()
    with keep_warnings(kept):
        status = _explain_all(arguments, images, outputs, boxes, labels)
    for warning in kept.kept():  # once each, not once per batch
        print(f"note: {warning.note()}", file=sys.stderr)
    return status


def _explain_all(arguments: argparse.Namespace, images: list[Path], outputs: list[Path],
                 boxes: list[tuple[float, float, float, float]], labels: tuple[str, ...] | None) -> int:
    from gradcam_audit.core.engine.explain import explain
    from gradcam_audit.core.run.models import load_model, single_image_input_problem
    from gradcam_audit.core.spec.model import ModelRef

    model = load_model(ModelRef(arguments.model.resolve()))
    input_problem = single_image_input_problem(model)
    if input_problem is not None:
        raise ModelError(f"--model {arguments.model}: {input_problem}")

    def explain_images(chunk: list[Path]) -> list[Any]:
        return list(explain(model, chunk, layer=arguments.layer, targets=_target(arguments.target), method=arguments.method,
                            labels=labels, preprocess=arguments.preprocess, resize=arguments.resize,
                            resize_filter=arguments.resize_filter,
                            batch_size=arguments.batch_size))

    progress = Progress(len(images), "explained")
    degenerate = failed = 0
    for start in range(0, len(images), arguments.batch_size):
        chunk = images[start : start + arguments.batch_size]
        for offset, (image_path, explanation, error) in enumerate(_explain_each(explain_images, chunk)):
            progress.update(start + offset + 1, image_path.name)
            if explanation is None:
                failed += 1
                print(f"{image_path}: error: {error}", file=sys.stderr, flush=True)
                continue
            output = outputs[start + offset]
            scores, skipped = ([], []) if explanation.degenerate else _score_boxes(explanation, boxes)
            _write_overlay(image_path, explanation, scores, output, arguments.method)
            print("\n".join(_describe(image_path, explanation, scores, skipped, output, labels)), flush=True)
            degenerate += explanation.degenerate is not None
    if failed:
        print(f"{failed} of {len(images)} image(s) could not be explained: see the errors above", file=sys.stderr)
    if degenerate:
        print(f"{degenerate} of {len(images)} heatmap(s) degenerate: see the reasons above", file=sys.stderr)
    return EXIT_FAILED if failed or degenerate else EXIT_OK


def _explain_each(explain_images: Callable[[list[Path]], list[Any]], chunk: list[Path]) -> list[tuple[Path, Any, str]]:
    """(image, explanation or None, why not) for each image: a batch first, one by one when the batch fails,
    so one unreadable image is reported by name and the others are still explained."""
    try:
        return [(image, explanation, "") for image, explanation in zip(chunk, explain_images(chunk))]
    except (ModelError, UsageError):
        raise  # the model, layer or target is wrong for every image: one message, not one per image
    except Exception as error:  # noqa: BLE001 - an image, the model or TensorFlow; retried image by image below
        if len(chunk) == 1:
            return [(chunk[0], None, _reason(error))]
    results: list[tuple[Path, Any, str]] = []
    for image in chunk:
        results.extend(_explain_each(explain_images, [image]))
    return results


def _reason(error: Exception) -> str:
    if isinstance(error, GradcamAuditError):
        return str(error)
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:300] if text else ''}; check that --preprocess, --resize and the image fit the model"
