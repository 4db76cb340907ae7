"""Dict-output models explain the named head; the engine cache does not keep models alive; GIFs are closed."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import numpy as np

from gradcam_audit.core.engine.explain import explain
from gradcam_audit.core.files.images import read_rgb


def _dict_output_model():  # type: ignore[no-untyped-def]
    import keras

    inputs = keras.Input((32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="conv")(inputs))
    # Insertion order (zeta, alpha) differs from Keras' sorted output order (alpha, zeta) on purpose.
    return keras.Model(inputs, {"zeta": keras.layers.Dense(3, name="zeta")(pooled), "alpha": keras.layers.Dense(5, name="alpha")(pooled)})


def test_dict_outputs_are_selected_by_name() -> None:
    model = _dict_output_model()
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3)).astype(np.uint8)
    assert explain(model, [image], output="zeta")[0].scores.shape == (3,)
    assert explain(model, [image], output="alpha")[0].scores.shape == (5,)


def test_engine_cache_lets_the_model_go() -> None:
    model = _dict_output_model()
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    explain(model, [image], output="zeta")
    reference = weakref.ref(model)
    del model
    gc.collect()
    assert reference() is None


def test_multi_frame_gif_is_read_and_closed(tmp_path: Path) -> None:
    from PIL import Image

    frames = [Image.new("RGB", (8, 6), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert read_rgb(path).shape == (6, 8, 3)  # filterwarnings=error turns an unclosed file into a failure
