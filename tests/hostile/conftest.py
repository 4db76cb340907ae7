"""Helpers for the hostile-input corpus: run the real entry points and check that a mistake is a message, not a crash."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from gradcam_audit.cli.main import main

REPOSITORY = Path(__file__).resolve().parents[2]
HONEST_MODEL = REPOSITORY / "models" / "stripes_honest.keras"
STRIPES_IMAGES = REPOSITORY / "specs" / "images"


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    output: str  # stdout and stderr together


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """``cli("validate", path)``: run gradcam-audit in this process; a crash fails the test with its traceback."""

    def run(*arguments: str | Path) -> Outcome:
        exit_code = main([str(argument) for argument in arguments])
        captured = capsys.readouterr()
        return Outcome(exit_code, captured.out + captured.err)

    return run


def assert_message(outcome: Outcome, *fragments: str, exit_codes: Sequence[int] = (1, 2)) -> None:
    """A user's mistake: a documented exit code, no traceback, and the message names what is wrong."""
    assert outcome.exit_code in exit_codes, outcome.output
    assert "Traceback" not in outcome.output, outcome.output
    for fragment in fragments:
        assert fragment in outcome.output, f"{fragment!r} not in:\n{outcome.output}"


def write_png(path: Path, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color=0 if mode == "L" else (120, 60, 30)).save(path)
    return path


HEALTHY_SPEC = """\
model: model.keras
labels: [cat, dog]
cases:
  - id: healthy
    image: images/a.png
    target: cat
    regions:
      - {name: cat, box: [1, 1, 30, 30], min_mass: 0.3}
"""


def spec_folder(root: Path) -> Path:
    """A folder with a placeholder model, images/a.png (64×48) and a valid spec `healthy.yaml`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.keras").write_bytes(b"placeholder: the shallow check only needs the file to exist")
    write_png(root / "images" / "a.png")
    (root / "healthy.yaml").write_text(HEALTHY_SPEC, encoding="utf-8")
    return root
