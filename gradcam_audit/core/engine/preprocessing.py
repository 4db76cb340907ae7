"""Turning 0–255 pixels into model input, as the spec's `preprocess` says."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

import numpy as np

from gradcam_audit.core.spec.model import Preprocess
from gradcam_audit.errors import ModelError

# Module names under keras.applications where they differ from the spec's family name.
_FAMILY_MODULES = {"resnet50": "resnet", "efficientnet_v2": "efficientnet_v2"}


def import_callable(reference: str) -> Callable[..., object]:
    """Import 'package.module:function'.

    Raises:
        ModelError: the module or the attribute does not exist.
    """
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ModelError(f"cannot import {module_name!r} for {reference!r}: {error}; is it installed / on sys.path?") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ModelError(f"{reference!r}: module {module_name!r} has no function {attribute!r}")
    return cast(Callable[..., object], function)


def preprocess_function(preprocess: Preprocess) -> Callable[[np.ndarray], np.ndarray]:
    """A function mapping a float32 batch (N, H, W, C) in 0–255 to the model's input."""
    if preprocess.kind == "builtin":
        if preprocess.name == "scale01":
            return lambda batch: batch / np.float32(255.0)
        return lambda batch: batch
    if preprocess.kind == "affine":
        scale = np.float32(preprocess.scale)
        mean = np.asarray(preprocess.mean or (0.0,), dtype=np.float32)
        std = np.asarray(preprocess.std or (1.0,), dtype=np.float32)
        return lambda batch: (batch / scale - mean) / std
    if preprocess.kind == "family":
        module_name = _FAMILY_MODULES.get(preprocess.name, preprocess.name)
        module = importlib.import_module(f"keras.applications.{module_name}")
        keras_function = module.preprocess_input
        return lambda batch: np.asarray(keras_function(batch.copy()), dtype=np.float32)
    function = import_callable(preprocess.name)
    return lambda batch: np.asarray(function(batch), dtype=np.float32)
