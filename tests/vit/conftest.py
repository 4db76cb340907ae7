"""Token models for the transformer tests: keras_hub backbones with random weights, and hand-sized ViTs.

Every model is saved and reloaded as ``.keras`` first, so the engine sees what an audit loads from disk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

IMAGE_SIZE = 32


def reloaded(model: Any, folder: Path) -> Any:
    import keras

    path = folder / f"{model.name}.keras"
    model.save(path)
    return keras.saving.load_model(path)


def tiny_vit(*, image_size: int = 8, patch_size: int = 4, dim: int = 8, heads: int = 2, blocks: int = 3, class_token: bool = True,
             classes: int = 3, name: str = "tiny_vit") -> Any:
    """A pre-norm ViT of stock layers (as examples/vit_models.py): class-token readout, or mean pooling without one."""
    import keras
    from keras import layers

    tokens = (image_size // patch_size) ** 2
    image = keras.Input((image_size, image_size, 3), name="image")
    x = layers.Reshape((tokens, dim), name="patch_tokens")(layers.Conv2D(dim, patch_size, strides=patch_size, name="patch_embed")(image))
    ones = layers.GlobalAveragePooling2D(name="ones")(layers.Rescaling(0.0, offset=1.0, name="constant")(image))
    if class_token:
        class_vector = layers.Reshape((1, dim), name="class_token")(layers.Dense(dim, name="class_token_value")(ones))
        x = layers.Concatenate(axis=1, name="tokens")([class_vector, x])
        tokens += 1
    position = layers.Reshape((tokens, dim), name="position")(layers.Dense(tokens * dim, name="position_value")(ones))
    x = layers.Add(name="embedded")([x, position])
    for block in range(1, blocks + 1):
        normed = layers.LayerNormalization(name=f"block{block}_norm1")(x)
        x = layers.Add(name=f"block{block}_residual1")([x, layers.MultiHeadAttention(heads, dim // heads, name=f"block{block}_attention")(normed, normed)])
        normed = layers.LayerNormalization(name=f"block{block}_norm2")(x)
        x = layers.Add(name=f"block{block}_residual2")([x, layers.Dense(dim, name=f"block{block}_mlp")(layers.Dense(2 * dim, activation="gelu", name=f"block{block}_hidden")(normed))])
    x = layers.LayerNormalization(name="encoder_norm")(x)
    if class_token:
        readout = layers.Flatten(name="class_readout")(layers.Cropping1D((0, tokens - 1), name="class_token_out")(x))
    else:
        readout = layers.GlobalAveragePooling1D(name="mean_tokens")(x)
    return keras.Model(image, layers.Dense(classes, name="logits")(readout), name=name)


def _with_head(backbone: Any, name: str, *, dictionary_input: bool = False) -> Any:
    import keras
    from keras import layers

    image = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), name="image")
    x = backbone({"images": image} if dictionary_input else image)
    if len(x.shape) == 4:
        x = layers.GlobalAveragePooling2D(name="pool")(x)
    else:
        x = layers.Flatten(name="class_readout")(layers.Cropping1D((0, x.shape[1] - 1), name="class_token_out")(x))
    return keras.Model(image, layers.Dense(3, name="logits")(x), name=name)


def _vit() -> Any:
    import keras_hub

    backbone = keras_hub.models.ViTBackbone(image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32)
    return keras_hub.models.ViTImageClassifier(backbone=backbone, num_classes=3, preprocessor=None, name="hub_vit")


def _deit() -> Any:
    import keras_hub

    backbone = keras_hub.models.DeiTBackbone(image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32)
    return _with_head(backbone, "hub_deit")


def _dinov2() -> Any:
    import keras_hub

    backbone = keras_hub.models.DINOV2Backbone(
        patch_size=8, num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32, num_register_tokens=4,
        image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), position_embedding_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
    )
    return _with_head(backbone, "hub_dinov2", dictionary_input=True)


def _swin() -> Any:
    import keras_hub

    backbone = keras_hub.models.SwinTransformerBackbone(
        image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), embed_dim=16, depths=(2, 2), num_heads=(2, 2), window_size=4, patch_size=4
    )
    return _with_head(backbone, "hub_swin")


ARCHITECTURES: dict[str, Callable[[], Any]] = {"vit": _vit, "deit": _deit, "dinov2": _dinov2, "swin": _swin}
"""keras_hub token architectures: ViT (class token), DeiT (class + distillation), DINOv2 (class + 4 registers), Swin
(no prefix, windowed attention that is not keras.layers.MultiHeadAttention)."""


@pytest.fixture(scope="session")
def hub_models(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Any]:
    """name → that keras_hub model with random weights (seed 0), saved and reloaded as .keras; built once per session."""
    pytest.importorskip("keras_hub", reason="the transformer architectures come from keras_hub (test extra)")
    import keras

    folder = tmp_path_factory.mktemp("hub_models")
    cache: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in cache:
            keras.utils.set_random_seed(0)
            cache[name] = reloaded(ARCHITECTURES[name](), folder)
        return cache[name]

    return get
