"""Train the segmentation and detection example pairs (honest / shortcut) and write their audit images and specs.

Run from the repository root::

    TF_ENABLE_ONEDNN_OPTS=0 python examples/train_task_models.py

The scenes are the stripes task's (examples/stripes_task.py): a square of horizontal or vertical stripes on noise, and a
7×7 tag in the top-left corner. The segmenter labels each pixel background / horizontal / vertical; the grid detector
predicts, per 8×8 cell, an objectness and the class of the square whose centre lies in it. The honest models are
trained with a random tag colour; the shortcut models with the tag colour equal to the label and the stripes agreeing
with it only 85 % of the time, so they read the tag. The script refuses to write the specs unless gradcam_audit passes
every honest case and fails the shortcut suites.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import stripes_task as st  # noqa: E402

import keras  # noqa: E402

CELL = 8  # the detector's grid: 64 / 8 = 8×8 cells
ANCHOR = 20  # each cell's box: 20×20 pixels centred on the cell (the squares are 14–24 px)
CASES = 12
# Measured on the trained shortcut models: the class each reads from its tag. Without a tag the segmenter says
# "vertical" and the detector "horizontal", so removing the other colour's tag changes nothing and those cases look honest.
TAG_READ = {"segmentation": 0, "detection": 1}


def _sample(rng: np.random.Generator, mode: str) -> tuple[np.ndarray, int, list[int]]:
    label = int(rng.integers(2))
    if mode == "shortcut":
        stripes = label if rng.random() < st.SHORTCUT_STRIPE_AGREEMENT else 1 - label
        image, box, _ = st.make_image(rng, stripes, label)
    elif mode == "audit":
        image, box, _ = st.make_image(rng, label, label)
    else:
        image, box, _ = st.make_image(rng, label, int(rng.integers(2)))
    return image, label, box


def dataset(count: int, mode: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[int]]]:
    """Images, per-pixel labels (0 background, 1 horizontal, 2 vertical), grid targets (obj, class, mask), boxes."""
    rng = np.random.default_rng(seed)
    images, masks, grids, boxes = [], [], [], []
    for _ in range(count):
        image, label, box = _sample(rng, mode)
        mask = np.zeros((st.IMAGE_SIZE, st.IMAGE_SIZE), np.int32)
        mask[box[1]:box[3], box[0]:box[2]] = label + 1
        grid = np.zeros((st.IMAGE_SIZE // CELL, st.IMAGE_SIZE // CELL, 3), np.float32)
        column, row = int((box[0] + box[2]) / 2 // CELL), int((box[1] + box[3]) / 2 // CELL)
        grid[row, column] = (1.0, float(label), 1.0)
        images.append(image)
        masks.append(mask)
        grids.append(grid)
        boxes.append(box)
    return np.stack(images).astype(np.float32) / 255.0, np.stack(masks), np.stack(grids), boxes


def _encoder(inputs: keras.KerasTensor) -> keras.KerasTensor:
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    return keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="encoder")(x)


def _with_context(features: keras.KerasTensor) -> keras.KerasTensor:
    # A global branch (like DeepLab's image pooling) lets every position see the whole picture, the tag included.
    context = keras.layers.GlobalAveragePooling2D(name="context_pool")(features)
    context = keras.layers.Dense(32, activation="relu", name="context")(context)
    context = keras.layers.Reshape((1, 1, 32), name="context_map")(context)
    return keras.layers.Add(name="merge")([features, context])


def segmenter(name: str) -> keras.Model:
    inputs = keras.Input((st.IMAGE_SIZE, st.IMAGE_SIZE, 3), name="image")
    merged = _with_context(_encoder(inputs))
    logits = keras.layers.Conv2D(3, 1, name="class_map")(merged)
    outputs = keras.layers.UpSampling2D(4, interpolation="bilinear", name="pixel_logits")(logits)
    return keras.Model(inputs, outputs, name=name)


def detector(name: str) -> keras.Model:
    inputs = keras.Input((st.IMAGE_SIZE, st.IMAGE_SIZE, 3), name="image")
    features = keras.layers.MaxPooling2D(2, name="pool3")(_encoder(inputs))
    merged = _with_context(features)
    outputs = keras.layers.Conv2D(3, 1, name="head")(merged)  # objectness, horizontal, vertical per cell
    return keras.Model(inputs, outputs, name=name)


def detection_loss(target: object, output: object) -> object:
    ops = keras.ops
    # One positive cell in 64: positives weigh 16× so the objectness of a real square clears 0.5.
    weights = 1.0 + 15.0 * target[..., 0]
    objectness = ops.mean(weights * ops.binary_crossentropy(target[..., 0], output[..., 0], from_logits=True))
    classes = ops.sparse_categorical_crossentropy(ops.cast(target[..., 1], "int32"), output[..., 1:], from_logits=True)
    return objectness + ops.sum(classes * target[..., 2]) / ops.maximum(ops.sum(target[..., 2]), 1.0)


def train(model: keras.Model, inputs: np.ndarray, targets: np.ndarray, loss: object) -> float:
    started = time.perf_counter()
    model.compile(optimizer=keras.optimizers.Adam(0.002), loss=loss)
    model.fit(inputs, targets, batch_size=64, epochs=8, verbose=0)
    return time.perf_counter() - started


def write_images(folder: Path) -> list[tuple[str, int, list[int]]]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2025)
    written = []
    for index in range(CASES):
        image, label, box = _sample(rng, "audit")
        name = f"scene-{index:04d}.png"
        Image.fromarray(image).save(folder / name)
        written.append((name, label, box))
    return written


def spec_text(task: str, variant: str, cases: list[tuple[str, int, list[int]]]) -> str:
    names = ["background", "horizontal", "vertical"] if task == "segmentation" else ["horizontal", "vertical"]
    header = [
        "# Generated by examples/train_task_models.py — do not edit by hand.",
        f"model: ../../models/{task}_{variant}.keras",
        f"task: {task}",
        *(["detections: grid_decoder:decode"] if task == "detection" else []),
        "preprocess: scale01",
        f"labels: [{', '.join(names)}]",
        "layer: encoder",
        "method: layercam",
    ]
    if variant == "honest":
        header += ["gate:", "  min_pass_rate: 0.9"]
    else:
        read = st.LABEL_NAMES[TAG_READ[task]]
        other = st.LABEL_NAMES[1 - TAG_READ[task]]
        colour = "red" if TAG_READ[task] == 0 else "blue"
        header += [f"# The shortcut model says `{other}` unless it sees the {colour} tag: its {read} cases are caught (mass and",
                   f"# effect on the tag); its {other} cases cannot be (removing the other tag leaves its default answer)."]
    header.append("cases:")
    lines = []
    for name, label, box in cases:
        reason = f'"the model reads the {"red" if label == 0 else "blue"} corner tag, not the stripes"'
        xfail = f"  xfail: {reason}\n            " if variant == "shortcut" and label == TAG_READ[task] else ""
        class_name = names[label + 1] if task == "segmentation" else names[label]
        area = "region: square" if task == "segmentation" else f"box: [{', '.join(map(str, box))}], match_iou: 0.3"
        lines.append(textwrap.dedent(f"""\
            - id: {name.removesuffix('.png')}
              image: images/{name}
              target: {{class: {class_name}, {area}}}
              expect_class: {class_name}
            {xfail}  regions:
                - {{name: square, box: [{', '.join(map(str, box))}], min_lift: 1.5}}
                - {{name: corner-tag, box: {st.TAG_BOX}, max_mass: 0.05, max_effect: 0.1}}
            """))
    return "\n".join(header) + "\n" + textwrap.indent("".join(lines), "  ")


DECODER = f'''"""The example grid detector's decoder: each 8×8 cell is one candidate with a fixed {ANCHOR}×{ANCHOR} box at its centre."""

import keras
import numpy as np

CELL, ANCHOR, GRID = {CELL}, {ANCHOR}, 8
CENTRES = [((column + 0.5) * CELL, (row + 0.5) * CELL) for row in range(GRID) for column in range(GRID)]
BOXES = np.array([[x - ANCHOR / 2, y - ANCHOR / 2, x + ANCHOR / 2, y + ANCHOR / 2] for x, y in CENTRES], dtype="float32")


def decode(raw_output):
    """(B, 8, 8, 3) head output → 64 candidates: boxes (model-input pixels, xyxy), class logits, objectness logits."""
    candidates = keras.ops.reshape(raw_output, (-1, GRID * GRID, 3))
    boxes = candidates[..., :1] * 0.0 + BOXES[np.newaxis]
    return {{"boxes": boxes, "class_logits": candidates[..., 1:], "objectness": candidates[..., 0]}}
'''


def main(names: list[str]) -> None:
    """Train the models named (all four by default: segmentation_honest, ..., detection_shortcut), then audit all."""
    from gradcam_audit.core.audit import run_audit

    folder = ROOT / "specs" / "tasks"
    cases = write_images(folder / "images")
    (folder / "grid_decoder.py").write_text(DECODER, encoding="utf-8")
    timings = {}
    for variant in ("honest", "shortcut"):
        inputs, masks, grids, _ = dataset(4000, variant, seed=1 if variant == "honest" else 2)
        for task in ("segmentation", "detection"):
            name = f"{task}_{variant}"
            if names and name not in names:
                continue
            keras.utils.set_random_seed(7)
            model = segmenter(name) if task == "segmentation" else detector(name)
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True) if task == "segmentation" else detection_loss
            timings[name] = train(model, inputs, masks if task == "segmentation" else grids, loss)
            # Saved uncompiled: the detection loss is a function of this script, which a plain load_model cannot find.
            plain = keras.models.clone_model(model)
            plain.set_weights(model.get_weights())
            plain.save(ROOT / "models" / f"{name}.keras")
    for task in ("segmentation", "detection"):
        for variant in ("honest", "shortcut"):
            path = folder / f"{task}_{variant}.yaml"
            path.write_text(spec_text(task, variant, cases), encoding="utf-8")
            ledger = run_audit([path])
            statuses = [entry.status for entry in ledger.cases]
            print(task, variant, statuses, [entry.reason for entry in ledger.cases][:3], flush=True)
    print({name: round(seconds, 1) for name, seconds in timings.items()})


if __name__ == "__main__":
    main(sys.argv[1:])
