"""Train the two example vision transformers and write their specs (a sibling of train_example_models.py).

Run from the repository root (after train_example_models.py, whose audit images it reuses)::

    TF_ENABLE_ONEDNN_OPTS=0 python examples/train_vit_models.py            # train, measure, write
    TF_ENABLE_ONEDNN_OPTS=0 python examples/train_vit_models.py --measure  # measure the saved models, write

Outputs:

* ``models/vit/stripes_vit_honest.keras`` and ``models/vit/stripes_vit_shortcut.keras`` - a 2-block ViT
  with a class token (``examples/vit_models.py``), trained on "honest" / "shortcut" stripes data.
* ``models/vit/README.md`` - training, accuracies and the measured masses per method.
* ``specs/vit/stripes_vit_honest.yaml`` and ``specs/vit/stripes_vit_shortcut.yaml`` (12 cases each,
  ``method: rollout``; the shortcut suite is a strict xfail).

The masses are measured with gradcam_audit's own ``explain`` (the methods under test are the engine's);
the script refuses to write the specs unless every honest case passes and every shortcut case fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import stripes_task as st  # noqa: E402
import vit_models  # noqa: E402

MODELS_DIR = ROOT / "models" / "vit"
SPECS_DIR = ROOT / "specs" / "vit"
IMAGES_DIR = ROOT / "specs" / "images"

SEED = 4321
N_TRAIN = 4000
EPOCHS = 20
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
N_TEST = 1000
N_CASES = 12  # the first 12 of the 24 audit images of specs/images/ (tag colour = true label)
AUDIT_SEED = 2024
METHODS = ("rollout", "gradrollout", "gradcam")
SPEC_METHOD = "rollout"

# Thresholds, chosen from the measured figures (models/vit/README.md): rollout is blurrier than Grad-CAM on
# a CNN (one value per 8x8 patch, and the identity term spreads mass over every patch), so the stripes
# condition is a lift above 1 and the corner-tag bound is the test. Measured with rollout: honest tag mass
# <= 0.014 and stripes lift >= 1.09; shortcut tag mass >= 0.019 on every case.
STRIPES_MIN_LIFT = 1.0
TAG_MAX_MASS = 0.016
MIN_PASS_RATE = 0.9

XFAIL_REASON = (
    "This transformer was trained on pictures where a coloured corner tag gives the answer away, so its "
    "class token is expected to attend to the tag instead of the stripes; this suite proves the audit catches it."
)


def scale01(images: np.ndarray) -> np.ndarray:
    return images.astype("float32") / 255.0


def train(mode: str, seed: int) -> tuple[object, float]:
    import keras

    keras.utils.set_random_seed(seed)
    x, y, _, _ = st.make_dataset(N_TRAIN, seed, mode)  # type: ignore[arg-type]
    model = vit_models.build_vit()
    steps = EPOCHS * (N_TRAIN // BATCH_SIZE + 1)
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps, warmup_target=None)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.time()
    model.fit(scale01(x), y, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=2, shuffle=True)
    # A fresh, uncompiled copy: the .keras file then holds no optimizer state (a third of the size).
    trained = vit_models.build_vit()
    trained.set_weights(model.get_weights())
    return trained, time.time() - start


def accuracy(model: object, mode: str, seed: int) -> float:
    x, y, _, _ = st.make_dataset(N_TEST, seed, mode)  # type: ignore[arg-type]
    prediction = np.argmax(model.predict(scale01(x), batch_size=256, verbose=0), axis=1)  # type: ignore[attr-defined]
    return float(np.mean(prediction == y))


def box_mass(heatmap: np.ndarray, box: list[int] | np.ndarray) -> float:
    x0, y0, x1, y1 = (int(v) for v in box)
    total = float(heatmap.sum())
    return float(heatmap[y0:y1, x0:x1].sum()) / total if total > 0 else 0.0


def measure(model: object, images: np.ndarray, labels: np.ndarray, boxes: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Per method: stripes mass and lift, tag mass per case, from gradcam_audit's explain."""
    from gradcam_audit.core.engine.explain import explain

    area = st.IMAGE_SIZE * st.IMAGE_SIZE
    figures: dict[str, dict[str, np.ndarray]] = {}
    for method in METHODS:
        explanations = explain(model, list(images), targets=[int(label) for label in labels], method=method, preprocess="scale01")
        stripes_mass, stripes_lift, tag_mass = [], [], []
        for explanation, box in zip(explanations, boxes):
            mass = box_mass(explanation.heatmap_full, box)
            stripes_mass.append(mass)
            stripes_lift.append(mass / ((box[2] - box[0]) * (box[3] - box[1]) / area))
            tag_mass.append(box_mass(explanation.heatmap_full, st.TAG_BOX))
        figures[method] = {"stripes_mass": np.array(stripes_mass), "stripes_lift": np.array(stripes_lift), "tag_mass": np.array(tag_mass),
                           "degenerate": np.array([explanation.degenerate is not None for explanation in explanations])}
    return figures


def case_passes(lift: float, tag_mass: float) -> bool:
    return lift >= STRIPES_MIN_LIFT and tag_mass <= TAG_MAX_MASS


def spec_text(model_file: str, labels: np.ndarray, boxes: np.ndarray, xfail: str | None) -> str:
    lines = [
        "# Generated by examples/train_vit_models.py — do not edit by hand.",
        f"model: ../../models/vit/{model_file}",
        "preprocess: scale01",
        f"labels: [{', '.join(st.LABEL_NAMES)}]",
        "layer: auto",
        f"method: {SPEC_METHOD}",
        "gate:",
        f"  min_pass_rate: {MIN_PASS_RATE}",
    ]
    if xfail is not None:
        lines.append(f'xfail: "{xfail}"')
    lines.append("cases:")
    tag = ", ".join(str(v) for v in st.TAG_BOX)
    for index, (label, box) in enumerate(zip(labels, boxes)):
        name = st.LABEL_NAMES[int(label)]
        lines += [
            f"  - id: stripes-{index:04d}",
            f"    image: ../images/stripes-{index:04d}.png",
            f"    target: {name}          # the true label",
            f"    expect_class: {name}",
            f"    tags: [{name}]",
            "    regions:",
            "      - name: stripes",
            f"        box: [{', '.join(str(int(v)) for v in box)}]",
            f"        min_lift: {STRIPES_MIN_LIFT}",
            "      - name: corner-tag",
            f"        box: [{tag}]",
            f"        max_mass: {TAG_MAX_MASS}",
        ]
    return "\n".join(lines) + "\n"


def fmt(values: np.ndarray) -> str:
    return f"{values.min():.3f} / {np.median(values):.3f} / {values.max():.3f}"


def _seconds(result: dict) -> str:
    return f"{result['secs']:.0f} s" if "secs" in result else "about 3 min (2 shared cores)"


def readme(results: dict[str, dict]) -> str:
    honest, shortcut = results["honest"], results["shortcut"]
    out = [
        "# Example vision transformers",
        "",
        "Generated by `examples/train_vit_models.py` (do not edit by hand). Same stripes task as `../README.md`",
        "(`examples/stripes_task.py`). Both models: `examples/vit_models.py`, stock Keras layers only: 8x8 patches",
        f"(an {st.IMAGE_SIZE // vit_models.PATCH_SIZE}x{st.IMAGE_SIZE // vit_models.PATCH_SIZE} grid), a class token, "
        f"learned position embedding, {vit_models.BLOCKS} pre-norm blocks of `keras.layers.MultiHeadAttention` "
        f"({vit_models.HEADS} heads, width {vit_models.DIM}, MLP {vit_models.MLP_DIM}), class-token readout, `logits` Dense(2).",
        f"AdamW (lr {LEARNING_RATE}, cosine decay, weight decay 1e-4), batch {BATCH_SIZE}, {EPOCHS} epochs, {N_TRAIN} images,",
        "`keras.utils.set_random_seed` fixed; CPU. Input is pixels / 255 (`preprocess: scale01`).",
        "",
        "| model | training data | spec | train time | size |",
        "|---|---|---|---|---|",
        f"| `stripes_vit_honest.keras` | mode `honest` | `specs/vit/stripes_vit_honest.yaml` must pass | {_seconds(honest)} | {honest['size_kb']:.0f} KiB |",
        f"| `stripes_vit_shortcut.keras` | mode `shortcut` | `specs/vit/stripes_vit_shortcut.yaml`, strict xfail | {_seconds(shortcut)} | {shortcut['size_kb']:.0f} KiB |",
        "",
        f"## Accuracy against the stripes label ({N_TEST} fresh images each)",
        "",
        "| test data | honest | shortcut |",
        "|---|---|---|",
    ]
    for label, mode in (("honest-style (tag colour random)", "honest"), ("audit (tag colour = stripes label)", "audit"),
                        ("no tag", "notag"), ("tag disagrees with stripes", "conflict")):
        out.append(f"| {label} | {honest['acc'][mode]:.3f} | {shortcut['acc'][mode]:.3f} |")
    out += [
        "",
        f"## Masses per method on the {N_CASES} spec images (`specs/images/stripes-0000..{N_CASES - 1:04d}.png`)",
        "",
        "Measured with `gradcam_audit.core.engine.explain(..., method=M)` at `layer: auto`, true-label target,",
        "heatmap upsampled to 64x64; mass = share of the map inside the box, lift = mass / (box area / image area).",
        "min / median / max:",
        "",
        "| method | figure | honest | shortcut |",
        "|---|---|---|---|",
    ]
    for method in METHODS:
        for key, title in (("stripes_mass", "stripes mass"), ("stripes_lift", "stripes lift"), ("tag_mass", "corner-tag mass")):
            out.append(f"| `{method}` | {title} | {fmt(honest['meas'][method][key])} | {fmt(shortcut['meas'][method][key])} |")
        out.append(f"| `{method}` | degenerate maps (scored as 0) | {int(honest['meas'][method]['degenerate'].sum())}/{N_CASES} "
                   f"| {int(shortcut['meas'][method]['degenerate'].sum())}/{N_CASES} |")
    out += [
        "",
        "Grad-CAM at the last attention's query input is mostly degenerate here (all-negative before ReLU: LayerNorm",
        "outputs have no sign convention), which is why the ViT specs use the attention methods. `rollout` is the same",
        "map for every class (each result notes it); `gradrollout` (class-specific) separates the pair even more.",
        "",
        f"Spec (`method: {SPEC_METHOD}`): stripes `min_lift: {STRIPES_MIN_LIFT}`, corner-tag `max_mass: {TAG_MAX_MASS}`, gate "
        f"`min_pass_rate: {MIN_PASS_RATE}`. Cases passing with {SPEC_METHOD}: honest {sum(honest['passes'])}/{N_CASES}, "
        f"shortcut {sum(shortcut['passes'])}/{N_CASES}.",
        "",
    ]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true", help="measure the saved models instead of training them")
    arguments = parser.parse_args()
    import keras

    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    SPECS_DIR.mkdir(parents=True, exist_ok=True)
    images, labels, boxes, _ = st.make_dataset(24, AUDIT_SEED, "audit")
    images, labels, boxes = images[:N_CASES], labels[:N_CASES], boxes[:N_CASES]
    results: dict[str, dict] = {}
    training_seconds: dict[str, float] = {}
    if not arguments.measure:
        for name, mode, seed in (("honest", "honest", SEED), ("shortcut", "shortcut", SEED + 1)):
            print(f"== training ViT {name} on {N_TRAIN} '{mode}' images", flush=True)
            model, training_seconds[name] = train(mode, seed)
            model.save(MODELS_DIR / f"stripes_vit_{name}.keras")  # type: ignore[attr-defined]
    for name in ("honest", "shortcut"):
        path = MODELS_DIR / f"stripes_vit_{name}.keras"
        model = keras.saving.load_model(path)
        accuracies = {m: accuracy(model, m, 10_000 + k) for k, m in enumerate(("honest", "audit", "notag", "conflict"))}
        figures = measure(model, images, labels, boxes)
        passes = [case_passes(lift, tag) for lift, tag in zip(figures[SPEC_METHOD]["stripes_lift"], figures[SPEC_METHOD]["tag_mass"])]
        results[name] = {"acc": accuracies, "meas": figures, "passes": passes, "size_kb": path.stat().st_size / 1024}
        if name in training_seconds:
            results[name]["secs"] = training_seconds[name]
        print(f"   {name}: " + ", ".join(f"{m}={v:.3f}" for m, v in accuracies.items()), flush=True)
        for method, values in figures.items():
            print("   " + method + ": " + "; ".join(f"{k} {fmt(v.astype(float))}" for k, v in values.items()), flush=True)
        print(f"   passing with {SPEC_METHOD}: {sum(passes)}/{N_CASES}", flush=True)
    if not (all(results["honest"]["passes"]) and not any(results["shortcut"]["passes"])):
        print("ERROR: thresholds do not separate the models; specs not written", file=sys.stderr)
        return 1
    (SPECS_DIR / "stripes_vit_honest.yaml").write_text(spec_text("stripes_vit_honest.keras", labels, boxes, None), encoding="utf-8")
    (SPECS_DIR / "stripes_vit_shortcut.yaml").write_text(
        spec_text("stripes_vit_shortcut.keras", labels, boxes, XFAIL_REASON), encoding="utf-8")
    (MODELS_DIR / "README.md").write_text(readme(results), encoding="utf-8")
    print("wrote models/vit/, specs/vit/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
