"""The small vision transformer of the shipped ViT example, built from stock Keras layers only.

No custom layer, no Lambda: the ``.keras`` file loads with plain ``keras.saving.load_model`` in safe mode.
The learnable class token and position embedding are Dense layers applied to a constant vector of ones
(``Rescaling(0, offset=1)`` of the image, averaged), the usual trick to get a free parameter out of
standard layers. The head reads the class token (``Cropping1D`` keeps token 0).
"""

from __future__ import annotations

from typing import Any

IMAGE_SIZE = 64
PATCH_SIZE = 8
DIM = 32
HEADS = 2
BLOCKS = 2
MLP_DIM = 64


def build_vit(num_classes: int = 2, *, image_size: int = IMAGE_SIZE, patch_size: int = PATCH_SIZE, dim: int = DIM,
              heads: int = HEADS, blocks: int = BLOCKS, mlp_dim: int = MLP_DIM, name: str = "stripes_vit") -> Any:
    """A pre-norm ViT with a class token: (B, S, S, 3) pixels / 255 → (B, num_classes) logits."""
    import keras
    from keras import layers

    grid = image_size // patch_size
    tokens = grid * grid
    image = keras.Input((image_size, image_size, 3), name="image")
    patches = layers.Conv2D(dim, patch_size, strides=patch_size, name="patch_embed")(image)
    patches = layers.Reshape((tokens, dim), name="patch_tokens")(patches)
    ones = layers.GlobalAveragePooling2D(name="ones")(layers.Rescaling(0.0, offset=1.0, name="constant")(image))
    class_token = layers.Reshape((1, dim), name="class_token")(layers.Dense(dim, name="class_token_value")(ones))
    x = layers.Concatenate(axis=1, name="tokens")([class_token, patches])
    position = layers.Reshape((tokens + 1, dim), name="position")(layers.Dense((tokens + 1) * dim, name="position_value")(ones))
    x = layers.Add(name="embedded")([x, position])
    for block in range(1, blocks + 1):
        normed = layers.LayerNormalization(epsilon=1e-6, name=f"block{block}_norm1")(x)
        attended = layers.MultiHeadAttention(heads, dim // heads, name=f"block{block}_attention")(normed, normed)
        x = layers.Add(name=f"block{block}_residual1")([x, attended])
        normed = layers.LayerNormalization(epsilon=1e-6, name=f"block{block}_norm2")(x)
        hidden = layers.Dense(mlp_dim, activation="gelu", name=f"block{block}_mlp1")(normed)
        x = layers.Add(name=f"block{block}_residual2")([x, layers.Dense(dim, name=f"block{block}_mlp2")(hidden)])
    x = layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(x)
    readout = layers.Flatten(name="class_readout")(layers.Cropping1D((0, tokens), name="class_token_out")(x))
    logits = layers.Dense(num_classes, name="logits")(readout)
    return keras.Model(image, logits, name=name)
