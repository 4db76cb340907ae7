"""The first spec `gradcam-audit init --model` writes: the model's facts as keys, with why as comments.

Values go through the same YAML emitter and comment escaping as imported specs (core/annotations/writing.py), so
no model-supplied name or path can break a line or start a key of its own.
"""

from __future__ import annotations

from gradcam_audit.core.annotations.writing import comment, refuse_control_characters, scalar
from gradcam_audit.core.annotations.model_facts import Finding, ModelFacts

EXAMPLE_IMAGE = "images/example-0001.jpg"
# The example case's boxes fit an image of at least this size (width, height).
EXAMPLE_IMAGE_MIN_SIZE = (210, 200)
COMMENT_COLUMN = 41
LABELS_LINE_WIDTH = 100
PLACEHOLDER_CLASSES = 2  # when the model could not be read

CHOOSING_PREPROCESS = (
    "How to choose `preprocess`: do to the pixels what the model's training code did before model.fit:",
    "  nothing (0–255 pixels) → none        x / 255 → scale01        x / 127.5 − 1 → {scale: 127.5, mean: [1], std: [1]}",
    "  keras.applications.<family>.preprocess_input → that family (xception, resnet50, mobilenet_v2, efficientnet, ...)",
    "  anything else → 'package.module:function' (your own function, called on a float32 batch of 0–255 pixels)",
    "A wrong choice shows as every image predicted as one class: try `gradcam-audit explain IMAGE --model ...` first.",
)
CHOOSING_RESIZE_FILTER = (
    "resize_filter: the filter your training pipeline resized images with (keras image_dataset_from_directory and",
    "tf.image.resize: bilinear; PIL Image.resize: bicubic; OpenCV cv2.resize: bilinear, or area when shrinking).",
)


def _keyed(indent: str, key: str, value: str, note: str = "") -> str:
    """``key: value`` with ``note`` as a trailing comment; ``value`` is already YAML (scalar or a flow collection)."""
    line = f"{indent}{key}: {value}"
    return f"{line.ljust(COMMENT_COLUMN - 1)} # {comment(note)}" if note else line


def _comments(lines: tuple[str, ...] | list[str], indent: str = "") -> list[str]:
    return [f"{indent}# {comment(line)}".rstrip() for line in lines]


def _labels_lines(labels: tuple[str, ...]) -> list[str]:
    """``labels: [a, b, ...]`` as one flow sequence, wrapped onto indented lines when long."""
    lines: list[str] = []
    current = "labels: ["
    for index, label in enumerate(labels):
        item = scalar(label) + (", " if index < len(labels) - 1 else "]")
        if len(current) + len(item) > LABELS_LINE_WIDTH and current.strip() not in ("labels: [", ""):
            lines.append(current.rstrip())
            current = "  "
        current += item
    lines.append(current)
    return lines


def _finding_note(finding: Finding) -> str:
    return ("found: " if finding.found else "GUESS, check it: ") + finding.reason


def render_first_spec(model_from_spec: str, facts: ModelFacts | None, *, unread_reason: str = "") -> str:
    """The spec text for the model at ``model_from_spec`` (a path relative to the spec's folder).

    ``facts`` None: the model could not be read (``unread_reason`` says why) and labels, preprocess and layer are
    placeholders, said so in the file.
    """
    refuse_control_characters(model_from_spec, "the model path")
    labels = facts.labels if facts is not None else tuple(f"class_{index}" for index in range(PLACEHOLDER_CLASSES))
    lines = _comments((
        "A first attention audit for your model: each case is one image, and the Grad-CAM heatmap of the target class",
        "must put its mass inside the regions you draw. Check it with `gradcam-audit validate specs --deep`, run it with",
        "`pytest --gradcam-specs specs`. Every key is explained in the spec reference (docs/reference/spec.md).",
        "",
    ))
    if facts is None:
        lines += _comments((f"The model was not read ({unread_reason}): labels, preprocess and layer below are",
                            "placeholders. Run `gradcam-audit init DIR --model FILE` again once the file is there, or",
                            "fill them in yourself.", ""))
        lines += _comments(CHOOSING_PREPROCESS)
    else:
        lines += _comments((f"What `gradcam-audit init` found in the model {facts.model_name!r}:",
                            f"  input: {facts.input_size} (images are fitted to it: see `resize` and `resize_filter`)",
                            f"  classes: {facts.num_classes} ({facts.classes_reason})",
                            f"  preprocess: {facts.preprocess.value} ({_finding_note(facts.preprocess)})",
                            f"  layer: {facts.layer.value} ({facts.layer.reason})",
                            *(f"  note: {note}" for note in facts.notes)))
        if not facts.preprocess.found:
            lines += ["#", *_comments(CHOOSING_PREPROCESS)]
    lines.append("")
    lines.append(_keyed("", "model", scalar(model_from_spec), "relative to this file (.keras or .h5)"))
    preprocess = facts.preprocess if facts is not None else Finding("scale01", False, "the model was not read")
    lines.append(_keyed("", "preprocess", scalar(preprocess.value),
                        "found in the model (see above)" if preprocess.found else "a GUESS: see above how to choose"))
    lines += _comments(CHOOSING_RESIZE_FILTER)
    lines.append(_keyed("", "resize_filter", "bilinear"))
    if facts is not None and facts.labels_found:
        lines += _comments((f"{len(labels)} class names, in the model's output order, read from the model:",))
    else:
        lines += _comments((f"{len(labels)} placeholders, one per model output: replace them by your class names, in "
                            "the model's output order",))
    lines += _labels_lines(labels)
    layer_note = f"resolves to {facts.layer.value} (see above)" if facts is not None else "or the name of a convolutional layer"
    lines.append(_keyed("", "layer", "auto", layer_note))
    lines.append(_keyed("", "method", "gradcam", "or [gradcam, gradcam++] to run every case with both"))
    lines += ["", "defaults:", _keyed("  ", "min_lift", "1.5", "mass inside ÷ area share of the region; 1.0 is chance level")]
    example_class = scalar(labels[0])
    width, height = EXAMPLE_IMAGE_MIN_SIZE
    lines += [
        "",
        "cases:",
        _keyed("  - ", "id", "example-0001", "becomes the pytest test id"),
        _keyed("    ", "image", scalar(EXAMPLE_IMAGE), f"add it (at least {width}×{height} px for these boxes), or change the path"),
        _keyed("    ", "target", example_class, "the class to explain (default: the predicted class)"),
        _keyed("    ", "expect_class", example_class, "the model must also predict it: right class, right reason"),
        "    regions:",
        _keyed("      - ", "name", "object"),
        _keyed("        ", "box", "[40, 30, 210, 200]", "[x_min, y_min, x_max, y_max] in pixels of the original image"),
        _keyed("        ", "min_mass", "0.4", "at least 40 % of the heatmap inside"),
        _keyed("      - ", "name", "watermark"),
        _keyed("        ", "box", "[0, 0, 60, 20]"),
        _keyed("        ", "max_mass", "0.05", "a forbidden region: at most 5 % of the heatmap there"),
        _keyed("        ", "max_effect", "0.1", "and removing it lowers p(target) by at most 0.1: a heatmap can look"),
        "                                         # clean while the model depends on the region; this checks that it does not",
        "",
        "gate:",
        _keyed("  ", "min_pass_rate", "0.9", "the suite fails below 90 % passing cases"),
        "",
        "# Have boxes in a labelling tool already? `gradcam-audit import coco|voc|yolo|labelme --help`",
    ]
    return "\n".join(lines) + "\n"
