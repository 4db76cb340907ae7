"""Audits run again in one process reuse a model file's loaded model by its content, and a model's randomised copy:
a changed file, another safe_mode or a custom loader is never served a stale model."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

from gradcam_audit.core.evaluate.causal import randomized_copy
from gradcam_audit.core.run.models import ModelCache
from gradcam_audit.core.spec.model import ModelRef
from tests.plugin.conftest import HONEST_MODEL, SHORTCUT_MODEL


def _first_kernel(model: object) -> np.ndarray:
    return np.asarray(next(layer for layer in model.layers if layer.weights).get_weights()[0])  # type: ignore[attr-defined]


def test_a_model_file_is_reused_by_content_and_loaded_anew_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    shutil.copy(HONEST_MODEL, path)
    first = ModelCache().get(ModelRef(path))
    assert ModelCache().get(ModelRef(path)) is first  # another run, same file: the same model
    assert ModelCache().get(ModelRef(path, safe_mode=False)) is not first  # loaded as asked, never as another run asked
    shutil.copy(SHORTCUT_MODEL, path)  # the same path, other weights
    changed = ModelCache().get(ModelRef(path))
    assert changed is not first
    assert not np.allclose(_first_kernel(changed), _first_kernel(first))


def test_a_custom_loader_is_called_by_every_run(tmp_path: Path) -> None:
    (tmp_path / "counting.py").write_text("import keras\nCALLS = []\n\ndef load(path):\n    CALLS.append(path)\n"
                                          "    return keras.saving.load_model(path)\n", encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        reference = ModelRef(HONEST_MODEL, loader="counting:load")
        ModelCache().get(reference)
        ModelCache().get(reference)
        import counting  # type: ignore[import-not-found]

        assert len(counting.CALLS) == 2
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("counting", None)


def test_the_randomised_copy_is_made_once_per_model() -> None:
    model = ModelCache().get(ModelRef(HONEST_MODEL))
    copy = randomized_copy(model)
    assert randomized_copy(model) is copy and randomized_copy(model, seed=7) is not copy
    assert not np.allclose(_first_kernel(copy), _first_kernel(model))
