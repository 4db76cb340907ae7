"""Calling a model on an image batch in the input structure it was built with, so Keras has nothing to warn about."""

from __future__ import annotations

from typing import Any


def call_model(model: Any, images: Any) -> Any:
    """``model(images, training=False)`` with ``images`` (B, H, W, C) wrapped as the model declares its one input.

    A functional model built with ``keras.Model([image], ...)`` or ``keras.Model({"image": image}, ...)`` (common in
    models saved by Keras 2 or by training scripts with named inputs) expects a one-item list or a one-key dict;
    given a bare batch it still runs, but warns "The structure of `inputs` doesn't match the expected structure"
    on every trace. Passing the structure it declares removes the cause of the warning.
    """
    return model(structured_input(model, images), training=False)


def structured_input(model: Any, images: Any) -> Any:
    """``images`` as a one-item list or one-key dict when that is how ``model`` declares its single input, else as is."""
    try:
        # Functional.input is the structure given to keras.Model(inputs=...); a subclassed model not yet called
        # raises (it has no input until its first call) and takes the batch as it is.
        declared = model.input
    except (AttributeError, ValueError, RuntimeError):
        return images
    if isinstance(declared, dict) and len(declared) == 1:
        return {next(iter(declared)): images}
    if isinstance(declared, (list, tuple)) and len(declared) == 1:
        return [images]
    return images
