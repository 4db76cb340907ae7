"""Loading models safely, once per process, with their SHA-256 for the report's provenance."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from gradcam_audit.core.engine.preprocessing import import_callable
from gradcam_audit.core.spec.model import ModelRef
from gradcam_audit.errors import ModelError


def file_sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_model(reference: ModelRef) -> Any:
    """Load a Keras model (safe_mode on unless the spec opts out), or call the spec's custom loader.

    Raises:
        ModelError: the file cannot be loaded, with the likely fix.
    """
    if reference.loader:
        model = import_callable(reference.loader)(str(reference.path))
        if not hasattr(model, "layers"):
            raise ModelError(f"loader {reference.loader!r} returned {type(model).__name__}, expected a keras.Model")
        return model
    import keras

    try:
        return keras.saving.load_model(reference.path, compile=False, safe_mode=reference.safe_mode)
    except Exception as error:  # noqa: BLE001 - Keras raises many types; the user needs one clear message
        text = str(error)
        hint = "if the model uses custom layers, give `model: {path: ..., loader: 'package.module:function'}`"
        if "safe_mode" in text or "lambda" in text.lower():
            hint = "the file contains a Lambda layer (arbitrary code); set `model: {path: ..., safe_mode: false}` only if you trust it"
        raise ModelError(f"cannot load model {reference.path}: {text.splitlines()[0] if text else type(error).__name__}; {hint}") from None


class ModelCache:
    """Each model is loaded once per process and kept while the run needs it."""

    def __init__(self) -> None:
        self._models: dict[ModelRef, Any] = {}
        self._hashes: dict[Path, str | None] = {}

    def get(self, reference: ModelRef) -> Any:
        if reference not in self._models:
            self._models[reference] = load_model(reference)
        return self._models[reference]

    def sha256(self, path: Path) -> str | None:
        if path not in self._hashes:
            self._hashes[path] = file_sha256(path)
        return self._hashes[path]
