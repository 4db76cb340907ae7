"""Token models audited with no user code: the layer is chosen and explained, every method gives finite maps at
the patch grid, and boxes land where the model saw them (keras_hub ViT, DeiT, DINOv2 and Swin, random weights)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.engine.explain import explain
from gradcam_audit.core.engine.mapping import upsample_heatmap
from gradcam_audit.core.engine.methods import METHODS
from gradcam_audit.errors import ModelError
from tests.vit.conftest import IMAGE_SIZE

# name: (grid, prefix tokens, what the auto layer's reason must say)
EXPECTED = {
    "vit": ((4, 4), 1, "query input of the last attention layer"),
    "deit": ((4, 4), 2, "query input of the last attention layer"),
    "dinov2": ((4, 4), 5, "query input of the last attention layer"),
    "swin": ((4, 4), 0, "token output"),
}
ATTENTION_METHODS = ("rollout", "gradrollout")


def _images(count: int = 3, size: tuple[int, int] = (IMAGE_SIZE, IMAGE_SIZE)) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) for _ in range(count)]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_auto_layer_is_chosen_and_explained(hub_models: Callable[[str], Any], name: str) -> None:
    grid, prefix, phrase = EXPECTED[name]
    explanation = explain(hub_models(name), _images(1), preprocess="scale01")[0]
    assert phrase in explanation.layer_reason
    assert f"{grid[0]}×{grid[1]} grid" in explanation.layer_reason
    dropped = "no prefix token dropped" if prefix == 0 else f"dropped {prefix} prefix token"
    assert dropped in explanation.layer_reason, explanation.layer_reason


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_method_that_applies_gives_finite_maps_at_the_patch_grid(hub_models: Callable[[str], Any], name: str) -> None:
    model = hub_models(name)
    grid = EXPECTED[name][0]
    for method in METHODS:
        if method in ATTENTION_METHODS and name == "swin":
            with pytest.raises(ModelError, match="no keras.layers.MultiHeadAttention.*use gradcam"):
                explain(model, _images(1), method=method, preprocess="scale01")
            continue
        explanations = explain(model, _images(2), method=method, preprocess="scale01")
        for explanation in explanations:
            assert explanation.heatmap.shape == grid, (name, method)
            assert np.isfinite(explanation.heatmap).all() and np.isfinite(explanation.heatmap_full).all(), (name, method)
            assert explanation.heatmap_full.shape == (IMAGE_SIZE, IMAGE_SIZE)
            if method in ATTENTION_METHODS:
                assert explanation.degenerate is None and explanation.heatmap.max() > 0, (name, method)
                assert "MultiHeadAttention" in explanation.layer_reason
            if explanation.degenerate is not None:
                assert "try" in explanation.degenerate  # a transformer's degenerate map names the method to try


def test_attention_layers_are_named_in_call_order(hub_models: Callable[[str], Any]) -> None:
    reason = explain(hub_models("vit"), _images(1), method="rollout", preprocess="scale01")[0].layer_reason
    # keras_hub lists block 2 before block 1 among its sublayers; rollout must multiply in call order.
    assert reason.index("transformer_block_1/mha") < reason.index("transformer_block_2/mha")


def test_boxes_map_exactly_through_the_patch_grid(hub_models: Callable[[str], Any]) -> None:
    """A letterboxed 64×48 photo: each patch's mass lands in the photo box the model saw through that patch."""
    explanation = explain(hub_models("vit"), _images(1, (64, 48)), method="rollout", preprocess="scale01", resize="letterbox")[0]
    geometry = explanation.geometry
    np.testing.assert_allclose(explanation.heatmap_full, upsample_heatmap(explanation.heatmap, geometry))
    # Model input 32×32, content 32×24 at offset (0, 4); patch (row 2, column 1) covers model x 8..16, y 16..24,
    # i.e. photo x 16..32, y 24..40.
    one_patch = np.zeros((4, 4))
    one_patch[2, 1] = 1.0
    full = upsample_heatmap(one_patch, geometry)
    peak_y, peak_x = np.unravel_index(np.argmax(full), full.shape)
    assert 16 <= peak_x < 32 and 24 <= peak_y < 40
    inside = full[24:40, 16:32].sum() / full.sum()
    assert inside > 0.5


def test_ambiguous_token_count_asks_for_layer_grid_or_prefix_tokens(tmp_path: Any) -> None:
    import keras

    from tests.vit.conftest import reloaded

    # 10 tokens of an 8×16 input, no patch-size hint: 2 prefix + a 2×4 grid, or 8 prefix + a 1×2 grid.
    image = keras.Input((8, 16, 3))
    tokens = keras.layers.Dense(6, name="tokens")(keras.layers.Reshape((8, 48))(image))
    extra = keras.layers.Reshape((2, 6))(keras.layers.Dense(12)(keras.layers.Flatten()(image)))
    tokens = keras.layers.Concatenate(axis=1, name="joined")([extra, tokens])
    model = reloaded(keras.Model(image, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(tokens)), name="ambiguous"), tmp_path)
    images = [np.random.default_rng(0).integers(0, 256, (8, 16, 3), dtype=np.uint8)]
    with pytest.raises(ModelError, match=r"prefix_tokens: 2 with layer_grid: \[2, 4\].*set `layer_grid: \[h, w\]`.*`prefix_tokens: N`"):
        explain(model, images, layer="joined")
    explanation = explain(model, images, layer="joined", prefix_tokens=2)[0]
    assert explanation.heatmap.shape == (2, 4) and "prefix_tokens from the spec" in explanation.layer_reason
    assert explain(model, images, layer="joined", layer_grid=(2, 4))[0].heatmap.shape == (2, 4)
    with pytest.raises(ModelError, match="layer_grid 3×3"):
        explain(model, images, layer="joined", layer_grid=(3, 3), prefix_tokens=2)
