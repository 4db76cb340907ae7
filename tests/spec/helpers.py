"""Building spec folders for the tests: small PNG images, a placeholder or real model, and YAML text."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from PIL import Image

REPOSITORY = Path(__file__).resolve().parents[2]
HONEST_MODEL = REPOSITORY / "models" / "stripes_honest.keras"
STRIPES_IMAGE = REPOSITORY / "specs" / "images" / "stripes-0000.png"
IMAGE_SIZE = (64, 48)  # width, height: not square, so a swapped width/height is caught


def write_image(path: Path, size: tuple[int, int] = IMAGE_SIZE, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color=0 if mode == "L" else (120, 60, 30)).save(path)
    return path


def make_folder(root: Path, *, real_model: bool = False) -> Path:
    """A spec folder with images/a.png and images/b.png (64×48) and model.keras (a placeholder unless real_model)."""
    root.mkdir(parents=True, exist_ok=True)
    write_image(root / "images" / "a.png")
    write_image(root / "images" / "b.png")
    if real_model:
        shutil.copy(HONEST_MODEL, root / "model.keras")
    else:
        (root / "model.keras").write_bytes(b"placeholder: the shallow loader only checks that the file exists")
    return root


def write_spec(root: Path, text: str, name: str = "spec.yaml") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def marked_line(path: Path, marker: str = "# <-") -> int:
    """1-based number of the line carrying ``marker`` (tests mark the line an error must point at)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"no line marked {marker!r} in {path}")


VALID_SPEC = """
model: model.keras
labels: [cat, dog]
cases:
  - id: first
    image: images/a.png
    target: cat
    regions:
      - name: body
        box: [10, 10, 40, 30]
        min_mass: 0.3
  - id: second
    image: images/b.png
    regions:
      - name: head
        box: [0, 0, 20, 20]
        min_lift: 1.5
"""
