"""A transformer's map that cannot tell the classes apart is said so, naming the method to try; a CNN's never is."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradcam_audit.core.engine.discriminative import discrimination_warnings
from gradcam_audit.core.engine.explain import explain
from tests.vit.conftest import reloaded, tiny_vit


def _images() -> list[np.ndarray]:
    return [np.random.default_rng(index).integers(0, 256, (16, 16, 3), dtype=np.uint8) for index in range(2)]


def test_warning_appears_where_gradcam_maps_of_both_classes_agree(tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(5)
    model = tiny_vit(image_size=16, patch_size=4, dim=8, blocks=2, class_token=False, classes=2, name="flat_vit")
    # Class 1's logit is twice class 0's: every Grad-CAM map of class 1 is class 0's map times two (correlation 1).
    kernel, bias = model.get_layer("logits").get_weights()
    kernel[:, 1] = 2.0 * kernel[:, 0]
    model.get_layer("logits").set_weights([kernel, np.zeros_like(bias)])
    model = reloaded(model, tmp_path)
    for explanation in explain(model, _images(), targets=0, method="gradcam"):
        if explanation.degenerate is None:
            assert any("correlate at 1.00 (> 0.9)" in warning and "try gradrollout" in warning for warning in explanation.warnings)


def test_no_warning_where_the_classes_differ(tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(5)
    model = tiny_vit(image_size=16, patch_size=4, dim=8, blocks=2, class_token=False, classes=2, name="sharp_vit")
    kernel, bias = model.get_layer("logits").get_weights()
    kernel[:, 1] = -kernel[:, 0]  # opposite classes: opposite evidence
    model.get_layer("logits").set_weights([kernel, bias])
    model = reloaded(model, tmp_path)
    explanations = explain(model, _images(), targets=0, method="gradcam")
    assert all(not any("correlate" in warning for warning in explanation.warnings) for explanation in explanations)


def test_rollout_is_flagged_as_the_same_map_for_every_class(tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(5)
    model = reloaded(tiny_vit(image_size=16, patch_size=4, dim=8, blocks=2, name="agnostic_vit"), tmp_path)
    for explanation in explain(model, _images(), method="rollout"):
        assert any("rollout gives every class the same map" in warning and "try gradrollout" in warning for warning in explanation.warnings)


def test_near_uniform_map_is_flagged_and_a_varied_one_is_not() -> None:
    flat = np.full((4, 4), 1.0)
    flat[0, 0] = 1.2  # std / mean ≈ 0.05
    varied = np.arange(16, dtype=float).reshape(4, 4)
    assert any("near-uniform heatmap" in warning for warning in discrimination_warnings("gradcam", True, flat, None, "class 0", None, "gradrollout"))
    assert discrimination_warnings("gradcam", True, varied, None, "class 0", None, "gradrollout") == ()


def test_cnn_explanations_carry_no_warning(tmp_path: Path) -> None:
    import keras

    image = keras.Input((16, 16, 3))
    features = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(image)
    model = keras.Model(image, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(features)))
    assert all(explanation.warnings == () for explanation in explain(model, _images(), method="eigencam"))
