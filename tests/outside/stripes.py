"""The shipped stripes pair with the corner tag NOT annotated: only the stripes are a (required) region."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TAG = (2, 2, 9, 9)  # the corner tag of every shipped 64×64 stripes image
# Cases whose shortcut-model prediction collapses without the tag (the others' stripes alone keep p high).
CASES = ("stripes-0001", "stripes-0002", "stripes-0005")


def blind_spec(folder: Path, model: str, *, cases: tuple[str, ...] = CASES, gate: dict[str, Any] | None = None,
               limit: float = 0.15) -> Path:
    """A spec written with the YAML emitter: each case keeps only its stripes box (min_mass), the tag is not named."""
    shipped = yaml.safe_load((ROOT / "specs" / f"stripes_{model}.yaml").read_text(encoding="utf-8"))
    chosen = [case for case in shipped["cases"] if case["id"] in cases]
    data: dict[str, Any] = {
        "model": str(ROOT / "models" / f"stripes_{model}.keras"),
        "preprocess": "scale01",
        "labels": ["horizontal", "vertical"],
        "defaults": {"max_outside_effect": limit},
        "cases": [{"id": case["id"], "image": str(ROOT / "specs" / case["image"]), "target": case["target"],
                   "regions": [{"name": "stripes", "box": case["regions"][0]["box"], "min_mass": 0.0}]} for case in chosen],
    }
    if gate is not None:
        data["gate"] = gate
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"blind_{model}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def covers(box: tuple[int, int, int, int] | list[int], point: tuple[float, float]) -> bool:
    return box[0] <= point[0] < box[2] and box[1] <= point[1] < box[3]
