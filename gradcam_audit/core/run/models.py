"""Loading models safely, once per process, with their SHA-256 for the report's provenance."""

from __future__ import annotations

import threading
import traceback
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

from gradcam_audit.core.engine.preprocessing import import_callable
from gradcam_audit.core.files.hashing import file_sha256
from gradcam_audit.core.spec.model import ModelRef
from gradcam_audit.errors import ModelError


def load_model(reference: ModelRef) -> Any:
    """Load a Keras model (safe_mode on unless the spec opts out), or call the spec's custom loader.

    Raises:
        ModelError: the file cannot be loaded, with the likely fix.
    """
    if reference.loader:
        loader = import_callable(reference.loader)
        try:
            model = loader(str(reference.path))
        except Exception as error:  # noqa: BLE001 - the loader is the user's code and may raise anything
            raise ModelError(f"the custom loader {reference.loader!r} raised {describe_user_error(error)} "
                             f"while loading {reference.path}") from None
        if not hasattr(model, "layers"):
            raise ModelError(f"loader {reference.loader!r} returned {type(model).__name__}, expected a keras.Model")
        return model
    archive_problem = _archive_problem(reference.path)
    if archive_problem is not None:
        raise ModelError(f"cannot load model {reference.path}: {archive_problem}")
    import keras

    try:
        return keras.saving.load_model(reference.path, compile=False, safe_mode=reference.safe_mode)
    except Exception as error:  # noqa: BLE001 - Keras raises many types; the user needs one clear message
        text = str(error)
        hint = "if the model uses custom layers, give `model: {path: ..., loader: 'package.module:function'}`"
        if "safe_mode" in text or "lambda" in text.lower():
            hint = "the file contains a Lambda layer (arbitrary code); set `model: {path: ..., safe_mode: false}` only if you trust it"
        raise ModelError(f"cannot load model {reference.path}: {text.splitlines()[0] if text else type(error).__name__}; {hint}") from None


def describe_user_error(error: BaseException) -> str:
    """``TypeName: message (at file.py:12)``: what a user's function raised and where in their code.

    The location is the deepest frame outside gradcam_audit and installed packages (the user's own line),
    else the deepest frame.
    """
    frames = traceback.extract_tb(error.__traceback__)
    own = [frame for frame in frames
           if "gradcam_audit" not in Path(frame.filename).parts and "site-packages" not in frame.filename]
    chosen = (own or frames)[-1:] if frames else []
    where = f" (at {chosen[0].filename}:{chosen[0].lineno})" if chosen else ""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message[:300]}{where}" if message else f"{type(error).__name__}{where}"


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _archive_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a Keras model file, judged from its bytes (Keras itself says "File not found")."""
    if not path.exists():
        return "file not found (model paths are relative to the spec file)"
    if not path.is_file():
        return "not a regular file (a folder, pipe or device); give the .keras file"
    suffix = path.suffix.lower()
    if suffix == ".keras" and not zipfile.is_zipfile(path):
        return ("not a valid Keras archive: a .keras file is a zip archive and this one is not (truncated download, "
                "or another format renamed); save it again with model.save('model.keras')")
    if suffix in (".h5", ".hdf5"):
        with path.open("rb") as handle:
            if handle.read(len(_HDF5_SIGNATURE)) != _HDF5_SIGNATURE:
                return "not a valid HDF5 model file (truncated or another format renamed); save it again with model.save('model.keras')"
    return None


def single_image_input_problem(model: Any) -> str | None:
    """Why ``model`` cannot be explained on an image batch (several inputs, not 4-D, not 1 or 3 channels), or None."""
    inputs = list(getattr(model, "inputs", None) or [])
    if len(inputs) > 1:
        return (f"the model has {len(inputs)} inputs; gradcam_audit feeds it one image batch "
                "(audit a model with a single image input)")
    if not inputs:
        return None  # a subclassed model declares its input on first call: the engine checks it then
    try:
        shape = tuple(inputs[0].shape)
    except (AttributeError, TypeError, ValueError):
        return None
    if len(shape) != 4:
        return f"the model's input has shape {shape}; expected an image batch (batch, height, width, channels)"
    if shape[3] is not None and int(shape[3]) not in (1, 3):
        return (f"the model expects {int(shape[3])} input channels; images are read as RGB (3) or grey (1) "
                "(use a 1- or 3-channel model)")
    return None


class _RecentModels:
    """Model files loaded lately by any run in this process, by content, up to a total file size.

    A second audit in the same process (assert_attention in many tests, run_audit twice in a notebook, pytest's
    in-process runs) then reuses the model, and with it the compiled explanation steps cached on it (the engine's
    tracing costs more than the forward pass of a small model). Keyed by the file's SHA-256: a changed file is
    loaded anew. Custom loaders are never reused (their result may depend on more than the file).
    """

    LIMIT_BYTES = 256 * 2**20

    def __init__(self) -> None:
        self._models: OrderedDict[tuple[ModelRef, str], tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, reference: ModelRef, sha256: str | None) -> Any:
        if reference.loader is not None or sha256 is None:
            return load_model(reference)
        key = (reference, sha256)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key][0]
        model = load_model(reference)
        with self._lock:
            self._models[key] = (model, reference.path.stat().st_size)
            while len(self._models) > 1 and sum(size for _, size in self._models.values()) > self.LIMIT_BYTES:
                self._models.popitem(last=False)
        return model


_RECENT = _RecentModels()


class ModelCache:
    """Each model is loaded once per process and kept while the run needs it."""

    def __init__(self) -> None:
        self._models: dict[ModelRef, Any] = {}
        self._hashes: dict[Path, str | None] = {}

    def get(self, reference: ModelRef) -> Any:
        if reference not in self._models:
            self._models[reference] = _RECENT.get(reference, self.sha256(reference.path))
        return self._models[reference]

    def sha256(self, path: Path) -> str | None:
        if path not in self._hashes:
            self._hashes[path] = file_sha256(path)
        return self._hashes[path]
