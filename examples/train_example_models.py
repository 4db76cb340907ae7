"""Train the two example models and write the example audit images and specs.

Run from the repository root::

    TF_ENABLE_ONEDNN_OPTS=0 python examples/train_example_models.py

Outputs (all deterministic given the fixed seeds; the PNGs are bit-identical
between runs, the model weights may differ in the last bits):

* ``models/stripes_honest.keras``   - trained on "honest" data (random tag colour).
* ``models/stripes_shortcut.keras`` - trained on "shortcut" data (tag gives the label away).
* ``models/README.md``              - how they were trained, accuracies, Grad-CAM figures.
* ``specs/images/stripes-XXXX.png`` - 24 audit images (tag colour = true label).
* ``specs/stripes_honest.yaml`` and ``specs/stripes_shortcut.yaml`` - spec suites.

The script recomputes Grad-CAM itself (independently of the ``gradcam_audit``
package) and refuses to write the specs unless every honest case passes and
every shortcut case fails the chosen thresholds.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import stripes_task as st  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

MODELS_DIR = ROOT / "models"
SPECS_DIR = ROOT / "specs"
IMAGES_DIR = SPECS_DIR / "images"

SEED = 1234
N_TRAIN = 4000
EPOCHS = 8
BATCH_SIZE = 64
LEARNING_RATE = 2e-3
N_TEST = 1000
N_AUDIT = 24
AUDIT_SEED = 2024
LAST_CONV = "conv3"

# Thresholds, chosen from the measured figures (see models/README.md).
# Honest model: stripes mass >= 0.22, lift >= 3.5, tag mass <= 0.012 on every case;
# shortcut model: tag mass >= 0.08 on every case (and stripes lift usually < 2).
STRIPES_MIN_MASS = 0.15
STRIPES_MIN_LIFT = 2.0
TAG_MAX_MASS = 0.04
MIN_PASS_RATE = 0.9
# Causal evidence (measured with gradcam_audit, see models/README.md): removing the tag (inpainted) and pasting
# another class's tag in; and the heatmap's similarity to a weight-randomised copy's (a sanity check).
TAG_MAX_EFFECT = 0.1
MAX_TRANSPLANT_FLIP_RATE = 0.05
MAX_RANDOMIZATION_SIMILARITY = 0.5

XFAIL_REASON = (
    "This model was trained on pictures where a coloured corner tag gives the "
    "answer away, so it is expected to look at the tag instead of the stripes; "
    "this suite proves the audit catches it."
)


def build_model() -> keras.Model:
    """The small CNN used by both example models (logits output, no softmax)."""
    inp = keras.Input(shape=(st.IMAGE_SIZE, st.IMAGE_SIZE, 3), name="image")
    x = keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="conv1")(inp)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(32, 3, activation="relu", padding="same", name="conv2")(x)
    x = keras.layers.MaxPooling2D(name="pool2")(x)
    x = keras.layers.Conv2D(64, 3, activation="relu", padding="same", name="conv3")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(2, name="logits")(x)
    return keras.Model(inp, out, name="stripes_cnn")


def scale01(images: np.ndarray) -> np.ndarray:
    """Same preprocessing as the spec's ``preprocess: scale01``."""
    return images.astype("float32") / 255.0


def train(mode: str, seed: int) -> tuple[keras.Model, float]:
    """Train one model on ``N_TRAIN`` images of the given data mode."""
    keras.utils.set_random_seed(seed)
    x, y, _, _ = st.make_dataset(N_TRAIN, seed, mode)  # type: ignore[arg-type]
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    t0 = time.time()
    model.fit(scale01(x), y, batch_size=BATCH_SIZE, epochs=EPOCHS, verbose=2, shuffle=True)
    return model, time.time() - t0


def accuracy(model: keras.Model, mode: str, seed: int) -> float:
    """Accuracy against the *stripe* label on a fresh evaluation set."""
    x, y, _, _ = st.make_dataset(N_TEST, seed, mode)  # type: ignore[arg-type]
    pred = np.argmax(model.predict(scale01(x), batch_size=256, verbose=0), axis=1)
    return float(np.mean(pred == y))


def gradcam(model: keras.Model, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Plain Grad-CAM on ``LAST_CONV``, upsampled bilinearly to the image size."""
    grad_model = keras.Model(model.inputs, [model.get_layer(LAST_CONV).output, model.output])
    x = tf.convert_to_tensor(scale01(images))
    with tf.GradientTape() as tape:
        acts, logits = grad_model(x, training=False)
        score = tf.reduce_sum(tf.gather(logits, targets, axis=1, batch_dims=1))
    grads = tape.gradient(score, acts)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * acts, axis=-1, keepdims=True))
    cam = tf.image.resize(cam, (st.IMAGE_SIZE, st.IMAGE_SIZE), method="bilinear")
    return cam[..., 0].numpy()


def box_mass(cam: np.ndarray, box: list[int] | np.ndarray) -> float:
    """Share of the heatmap's total mass inside ``box`` (exclusive max)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    total = float(cam.sum())
    return float(cam[y0:y1, x0:x1].sum()) / total if total > 0 else 0.0


def measure(model: keras.Model, images: np.ndarray, labels: np.ndarray,
            obj_boxes: np.ndarray) -> dict[str, np.ndarray]:
    """Stripes mass, stripes lift and tag mass per audit image."""
    cams = gradcam(model, images, labels)
    area = st.IMAGE_SIZE * st.IMAGE_SIZE
    s_mass, s_lift, t_mass = [], [], []
    for cam, box in zip(cams, obj_boxes):
        m = box_mass(cam, box)
        s_mass.append(m)
        s_lift.append(m / ((box[2] - box[0]) * (box[3] - box[1]) / area))
        t_mass.append(box_mass(cam, st.TAG_BOX))
    return {"stripes_mass": np.array(s_mass), "stripes_lift": np.array(s_lift),
            "tag_mass": np.array(t_mass)}


def case_passes(stripes_mass: float, stripes_lift: float, tag_mass: float) -> bool:
    """Whether one case meets every region condition of the spec."""
    return (stripes_mass >= STRIPES_MIN_MASS and stripes_lift >= STRIPES_MIN_LIFT
            and tag_mass <= TAG_MAX_MASS)


def spec_text(model_file: str, labels: np.ndarray, obj_boxes: np.ndarray,
              xfail: str | None) -> str:
    """Render one spec file as YAML text with a stable key order."""
    lines = [
        "# Generated by examples/train_example_models.py — do not edit by hand.",
        f"model: ../models/{model_file}",
        "preprocess: scale01",
        f"labels: [{', '.join(st.LABEL_NAMES)}]",
        "layer: auto",
        "method: gradcam",
        "gate:",
        f"  min_pass_rate: {MIN_PASS_RATE}",
        "  transplant: corner-tag",
        f"  max_transplant_flip_rate: {MAX_TRANSPLANT_FLIP_RATE}",
        f"  max_randomization_similarity: {MAX_RANDOMIZATION_SIMILARITY}",
    ]
    if xfail is not None:
        lines += [f"xfail: \"{xfail}\""]
    lines.append("cases:")
    for i, (lab, box) in enumerate(zip(labels, obj_boxes)):
        name = st.LABEL_NAMES[int(lab)]
        b = ", ".join(str(int(v)) for v in box)
        t = ", ".join(str(v) for v in st.TAG_BOX)
        lines += [
            f"  - id: stripes-{i:04d}",
            f"    image: images/stripes-{i:04d}.png",
            f"    target: {name}          # the true label",
            f"    expect_class: {name}",
            f"    tags: [{name}]",
            "    regions:",
            "      - name: stripes",
            f"        box: [{b}]",
            f"        min_mass: {STRIPES_MIN_MASS}",
            f"        min_lift: {STRIPES_MIN_LIFT}",
            "      - name: corner-tag",
            f"        box: [{t}]",
            f"        max_mass: {TAG_MAX_MASS}",
            f"        max_effect: {TAG_MAX_EFFECT}",
        ]
    return "\n".join(lines) + "\n"


def fmt(a: np.ndarray) -> str:
    """min / median / max of an array, three decimals."""
    return f"{a.min():.3f} / {np.median(a):.3f} / {a.max():.3f}"


def main() -> int:
    MODELS_DIR.mkdir(exist_ok=True)
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)

    # Audit images (mode "audit": tag colour = true stripe label), balanced classes.
    a_x, a_y, a_boxes, _ = st.make_dataset(N_AUDIT, AUDIT_SEED, "audit")
    for i, img in enumerate(a_x):
        Image.fromarray(img).save(IMAGES_DIR / f"stripes-{i:04d}.png", optimize=False)

    results: dict[str, dict] = {}
    for name, mode, seed in (("honest", "honest", SEED), ("shortcut", "shortcut", SEED + 1)):
        print(f"== training {name} model on {N_TRAIN} '{mode}' images", flush=True)
        model, secs = train(mode, seed)
        path = MODELS_DIR / f"stripes_{name}.keras"
        model.save(path)
        acc = {m: accuracy(model, m, 10_000 + k)
               for k, m in enumerate(("honest", "audit", "notag", "conflict"))}
        meas = measure(model, a_x, a_y, a_boxes)
        pred = np.argmax(model.predict(scale01(a_x), verbose=0), axis=1)
        passes = [case_passes(*v) for v in zip(meas["stripes_mass"], meas["stripes_lift"],
                                                meas["tag_mass"])]
        results[name] = dict(secs=secs, acc=acc, meas=meas, passes=passes,
                             audit_correct=int((pred == a_y).sum()),
                             size_kb=path.stat().st_size / 1024)
        print(f"   trained in {secs:.1f} s, {results[name]['size_kb']:.0f} KiB")
        print("   accuracy: " + ", ".join(f"{m}={v:.3f}" for m, v in acc.items()))
        for k, v in meas.items():
            print(f"   {k:13s} min/median/max = {fmt(v)}")
        fails_stripes = int(np.sum((meas["stripes_mass"] < STRIPES_MIN_MASS)
                                   | (meas["stripes_lift"] < STRIPES_MIN_LIFT)))
        fails_tag = int(np.sum(meas["tag_mass"] > TAG_MAX_MASS))
        results[name].update(fails_stripes=fails_stripes, fails_tag=fails_tag)
        print(f"   cases failing the stripes region: {fails_stripes}, the tag region: {fails_tag}")
        print(f"   cases passing thresholds: {sum(passes)}/{len(passes)}; "
              f"audit predictions correct: {results[name]['audit_correct']}/{N_AUDIT}")

    ok = all(results["honest"]["passes"]) and not any(results["shortcut"]["passes"])
    if not ok:
        print("ERROR: thresholds do not separate the models; specs not written", file=sys.stderr)
        return 1

    (SPECS_DIR / "stripes_honest.yaml").write_text(
        spec_text("stripes_honest.keras", a_y, a_boxes, None), encoding="utf-8")
    (SPECS_DIR / "stripes_shortcut.yaml").write_text(
        spec_text("stripes_shortcut.keras", a_y, a_boxes, XFAIL_REASON), encoding="utf-8")
    # The causal-evidence section is measured by examples/measure_causal_evidence.py (with gradcam_audit itself):
    # kept as it is; rerun that script after retraining.
    previous = (MODELS_DIR / "README.md").read_text(encoding="utf-8") if (MODELS_DIR / "README.md").is_file() else ""
    marker = "\n## Causal evidence"
    causal_section = previous[previous.index(marker):] if marker in previous else ""
    (MODELS_DIR / "README.md").write_text(readme(results).rstrip("\n") + "\n" + causal_section, encoding="utf-8")
    print("wrote models/, specs/")
    return 0


def readme(r: dict) -> str:
    """models/README.md contents from the measured results."""
    h, s = r["honest"], r["shortcut"]
    acc_rows = [
        ("honest-style (tag colour random)", "honest"),
        ("audit (tag colour = stripes label)", "audit"),
        ("no tag", "notag"),
        ("tag disagrees with stripes", "conflict"),
    ]
    out = [
        "# Example models",
        "",
        "Generated by `examples/train_example_models.py` (do not edit by hand). Task and data:",
        "`examples/stripes_task.py`: 64x64 RGB images, noisy background, 2-4 coloured",
        "distractor discs, one 14-24 px square of horizontal (class 0, `horizontal`) or",
        "vertical (class 1, `vertical`) stripes, and a 7x7 tag at box `[2, 2, 9, 9]`",
        "(red = 0, blue = 1).",
        "",
        "Both models: the same small Keras 3 CNN (`conv1` 16 -> pool -> `conv2` 32 -> pool ->",
        "`conv3` 64 -> global average pooling -> `logits` Dense(2), no softmax). Input is",
        "pixels / 255 (spec `preprocess: scale01`; no rescaling inside the model).",
        f"Trained with Adam (lr {LEARNING_RATE}), batch {BATCH_SIZE}, {EPOCHS} epochs, "
        f"{N_TRAIN} images, from-logits cross-entropy,",
        "`keras.utils.set_random_seed` fixed; CPU.",
        "",
        "| model | training data | purpose | train time | size |",
        "|---|---|---|---|---|",
        f"| `stripes_honest.keras` | mode `honest`: tag colour random, label = stripes "
        f"| looks at the stripes; `specs/stripes_honest.yaml` must pass "
        f"| {h['secs']:.0f} s | {h['size_kb']:.0f} KiB |",
        f"| `stripes_shortcut.keras` | mode `shortcut`: tag colour = label always, stripes "
        f"agree with the label {st.SHORTCUT_STRIPE_AGREEMENT:.0%} of the time "
        f"| reads the tag (a shortcut); `specs/stripes_shortcut.yaml` is a strict xfail "
        f"| {s['secs']:.0f} s | {s['size_kb']:.0f} KiB |",
        "",
        f"## Accuracy against the stripes label ({N_TEST} fresh images each)",
        "",
        "| test data | honest | shortcut |",
        "|---|---|---|",
    ]
    for label, m in acc_rows:
        out.append(f"| {label} | {h['acc'][m]:.3f} | {s['acc'][m]:.3f} |")
    out += [
        "",
        f"## Grad-CAM on the {N_AUDIT} audit images (`specs/images/`, mode `audit`)",
        "",
        "Grad-CAM of the true-label logit on `conv3`, bilinear upsampling to 64x64;",
        "mass = share of heatmap inside the box, lift = mass / (box area / image area).",
        "min / median / max:",
        "",
        "| figure | honest | shortcut | threshold |",
        "|---|---|---|---|",
        f"| stripes mass | {fmt(h['meas']['stripes_mass'])} | {fmt(s['meas']['stripes_mass'])} "
        f"| min_mass {STRIPES_MIN_MASS} |",
        f"| stripes lift | {fmt(h['meas']['stripes_lift'])} | {fmt(s['meas']['stripes_lift'])} "
        f"| min_lift {STRIPES_MIN_LIFT} |",
        f"| corner-tag mass | {fmt(h['meas']['tag_mass'])} | {fmt(s['meas']['tag_mass'])} "
        f"| max_mass {TAG_MAX_MASS} |",
        f"| cases failing the stripes region | {h['fails_stripes']}/{N_AUDIT} "
        f"| {s['fails_stripes']}/{N_AUDIT} | |",
        f"| cases failing the corner-tag region | {h['fails_tag']}/{N_AUDIT} "
        f"| {s['fails_tag']}/{N_AUDIT} | |",
        f"| cases passing | {sum(h['passes'])}/{N_AUDIT} | {sum(s['passes'])}/{N_AUDIT} | |",
        f"| audit predictions correct | {h['audit_correct']}/{N_AUDIT} "
        f"| {s['audit_correct']}/{N_AUDIT} | |",
        "",
        "## Vision transformers",
        "",
        "A ViT pair trained on the same task (`vit/stripes_vit_honest.keras`, `vit/stripes_vit_shortcut.keras`, audited",
        "by `specs/vit/` with `method: rollout`) is made by `examples/train_vit_models.py`; its accuracy and the",
        "measured masses per method (rollout, gradrollout, gradcam) are in `vit/README.md`.",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
