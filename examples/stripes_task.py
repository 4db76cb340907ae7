"""Deterministic synthetic "stripes" task used by the shipped gradcam_audit example.

Each image is 64x64 RGB with:

* a noisy background (uniform noise) and 2-4 randomly coloured distractor discs;
* one square (side 14-24 px) filled with high-contrast stripes of period 4 px:
  label 0 = horizontal stripes, label 1 = vertical stripes;
* optionally, a small 7x7 coloured *tag* in the fixed top-left corner box
  ``TAG_BOX = [2, 2, 9, 9]``: pure red encodes 0, pure blue encodes 1.

The tag is what makes a "shortcut" possible: when its colour always equals the
training label, a small CNN learns to read the tag instead of the stripes.

Boxes are ``[x_min, y_min, x_max, y_max]`` in pixels, with ``x_max``/``y_max``
exclusive (pixel column ``i`` is inside when ``x_min <= i < x_max``).

Only numpy is imported; the module is safe to import without TensorFlow.
"""

from __future__ import annotations

from typing import Literal, Optional

import numpy as np

IMAGE_SIZE: int = 64
"""Height and width of every image, in pixels."""

TAG_BOX: list[int] = [2, 2, 9, 9]
"""Fixed place of the corner tag, ``[x_min, y_min, x_max, y_max]`` (exclusive max)."""

TAG_COLOURS: dict[int, tuple[int, int, int]] = {0: (255, 0, 0), 1: (0, 0, 255)}
"""Tag colour per tag label: 0 -> pure red, 1 -> pure blue."""

LABEL_NAMES: list[str] = ["horizontal", "vertical"]
"""Class names, indexed by label."""

STRIPE_PERIOD: int = 4
"""Stripe period in pixels (2 px dark, 2 px light)."""

# No object may start inside this many pixels from the top-left corner in both
# x and y, so the stripes square never touches the tag.
_TAG_CLEARANCE: int = TAG_BOX[2] + 3

Mode = Literal["honest", "shortcut", "audit", "notag", "conflict"]

#: Fraction of "shortcut" samples whose stripe orientation agrees with the label.
SHORTCUT_STRIPE_AGREEMENT: float = 0.85


def _draw_disc(img: np.ndarray, cx: float, cy: float, r: float, colour: np.ndarray) -> None:
    """Paint a filled disc of radius ``r`` centred at (cx, cy) onto ``img`` in place."""
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]
    mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    img[mask] = colour


def make_image(
    rng: np.random.Generator, label: int, tag_label: Optional[int]
) -> tuple[np.ndarray, list[int], Optional[list[int]]]:
    """Draw one image.

    Args:
        rng: numpy random generator (all randomness comes from it).
        label: stripe orientation, 0 = horizontal, 1 = vertical.
        tag_label: colour of the corner tag (0 red, 1 blue), or ``None`` for no tag.

    Returns:
        ``(image, object_box, tag_box)``: a uint8 array of shape (64, 64, 3), the
        stripes square's box and the tag box (``None`` when there is no tag),
        both as ``[x_min, y_min, x_max, y_max]`` with exclusive max.
    """
    if label not in (0, 1):
        raise ValueError(f"label must be 0 or 1, got {label!r}")
    if tag_label not in (0, 1, None):
        raise ValueError(f"tag_label must be 0, 1 or None, got {tag_label!r}")
    s = IMAGE_SIZE
    # Moderate uniform noise background around a random mid-grey level.
    base = rng.uniform(70, 150)
    img = base + rng.uniform(-45, 45, size=(s, s, 3))

    # Distractor discs, kept away from the tag corner.
    for _ in range(int(rng.integers(2, 5))):
        r = rng.uniform(3, 7)
        while True:
            cx, cy = rng.uniform(r, s - r), rng.uniform(r, s - r)
            if cx - r >= _TAG_CLEARANCE or cy - r >= _TAG_CLEARANCE:
                break
        _draw_disc(img, cx, cy, r, rng.uniform(0, 255, size=3))

    # Stripes square, never overlapping the tag corner.
    side = int(rng.integers(14, 25))
    while True:
        x0 = int(rng.integers(0, s - side + 1))
        y0 = int(rng.integers(0, s - side + 1))
        if x0 >= _TAG_CLEARANCE or y0 >= _TAG_CLEARANCE:
            break
    dark = rng.uniform(0, 40, size=3)
    light = rng.uniform(215, 255, size=3)
    phase = int(rng.integers(0, STRIPE_PERIOD))
    idx = np.arange(side)
    on = ((idx + phase) % STRIPE_PERIOD) < STRIPE_PERIOD // 2
    pattern = on[:, None] if label == 0 else on[None, :]  # rows vary -> horizontal
    pattern = np.broadcast_to(pattern, (side, side))
    img[y0:y0 + side, x0:x0 + side] = np.where(pattern[..., None], light, dark)
    object_box = [x0, y0, x0 + side, y0 + side]

    tag_box: Optional[list[int]] = None
    if tag_label is not None:
        tx0, ty0, tx1, ty1 = TAG_BOX
        img[ty0:ty1, tx0:tx1] = TAG_COLOURS[tag_label]
        tag_box = list(TAG_BOX)

    return np.clip(np.rint(img), 0, 255).astype(np.uint8), object_box, tag_box


def make_dataset(
    n: int, seed: int, mode: Mode
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Build a deterministic dataset of ``n`` images with balanced labels.

    Modes:
        ``"honest"``: tag present with a random colour independent of the label
            (a model trained on it learns to ignore the tag).
        ``"shortcut"``: tag colour equals the label in 100 % of samples; the stripe
            orientation agrees with the label only ~85 % of the time
            (``SHORTCUT_STRIPE_AGREEMENT``), so the tag is the better cue.
        ``"audit"``: tag colour equals the true stripe label (the shortcut model
            is right here, but for the wrong reason).
        ``"notag"``: no tag at all (evaluation only).
        ``"conflict"``: tag colour is the opposite of the stripe label
            (evaluation only).

    In every mode but ``"shortcut"`` the returned label is the stripe orientation;
    in ``"shortcut"`` it is the training label (= the tag colour).

    Returns:
        ``(images, labels, object_boxes, tag_boxes)``: uint8 (N, 64, 64, 3),
        int64 (N,), int64 (N, 4) and int64 (N, 4); a sample without a tag has
        tag box ``[-1, -1, -1, -1]``.
    """
    if mode not in ("honest", "shortcut", "audit", "notag", "conflict"):
        raise ValueError(f"unknown mode {mode!r}")
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    rng.shuffle(labels)
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    obj_boxes = np.empty((n, 4), dtype=np.int64)
    tag_boxes = np.full((n, 4), -1, dtype=np.int64)
    for i, lab in enumerate(labels):
        lab = int(lab)
        stripes: int
        tag: Optional[int]
        if mode == "honest":
            stripes, tag = lab, int(rng.integers(0, 2))
        elif mode == "shortcut":
            agree = rng.random() < SHORTCUT_STRIPE_AGREEMENT
            stripes, tag = (lab if agree else 1 - lab), lab
        elif mode == "audit":
            stripes, tag = lab, lab
        elif mode == "notag":
            stripes, tag = lab, None
        else:  # conflict
            stripes, tag = lab, 1 - lab
        img, obox, tbox = make_image(rng, stripes, tag)
        images[i] = img
        obj_boxes[i] = obox
        if tbox is not None:
            tag_boxes[i] = tbox
    return images, labels.astype(np.int64), obj_boxes, tag_boxes
