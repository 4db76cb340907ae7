"""How the engine reads a detector's raw output: a user's decoder function, or keras-hub's own anchors and box coding.

A decoder maps the model's raw output to ``{"boxes": (B, K, 4) xyxy in model-input pixels, "class_logits": (B, K, C),
"objectness": (B, K) logits, optional}``, written with keras.ops so gradients flow from a class logit to the layer.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gradcam_audit.core.engine.preprocessing import import_callable
from gradcam_audit.errors import ModelError

KERAS_HUB = "keras_hub"


def load_decoder(reference: str, model: Any, spec_dir: Path | None = None) -> Callable[..., Any]:
    """The decoder named by ``detections:``: "keras_hub", or "module:function" (importable, or a module beside the spec)."""
    if reference == KERAS_HUB:
        return keras_hub_decoder(model)
    module_name, _, attribute = reference.partition(":")
    beside = spec_dir / (module_name.replace(".", "/") + ".py") if spec_dir is not None else None
    loaded = sys.modules.get(module_name)
    if beside is not None and beside.is_file() and (loaded is None or Path(getattr(loaded, "__file__", "") or "") != beside):
        # A decoder next to the spec (like a custom preprocessing module) need not be installed.
        module_spec = importlib.util.spec_from_file_location(module_name, beside)
        if module_spec is not None and module_spec.loader is not None:
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_name] = module
            try:
                module_spec.loader.exec_module(module)
            except Exception:
                del sys.modules[module_name]
                raise
    function = import_callable(reference)
    return function


def keras_hub_decoder(model: Any) -> Callable[..., Any]:
    """Boxes and class logits of a keras-hub object detector (RetinaNet): its anchors and box coding, its own config."""
    anchor_generator = getattr(model, "anchor_generator", None)
    box_format = getattr(model, "bounding_box_format", None)
    if anchor_generator is None or box_format is None:
        raise ModelError(f"`detections: keras_hub` needs a keras-hub object detector (with anchor_generator and bounding_box_format); "
                         f"model {getattr(model, 'name', '?')!r} is a {type(model).__name__}: write a decoder and give "
                         "`detections: module:function`")
    import keras

    anchor_format = anchor_generator.bounding_box_format

    def decode(raw_output: Any, images: Any) -> dict[str, Any]:
        # The anchors depend on the input size, which a keras-hub detector may leave open: read from the batch.
        height, width, channels = (int(size) for size in images.shape[1:])
        anchors = keras.ops.concatenate(list(anchor_generator(images).values()), axis=0)
        boxes = keras.utils.bounding_boxes.decode_deltas_to_boxes(
            anchors=anchors, boxes_delta=raw_output["bbox_regression"], encoded_format="center_xywh",
            anchor_format=anchor_format, box_format=box_format, image_shape=(height, width, channels))
        boxes = keras.utils.bounding_boxes.convert_format(boxes, source=box_format, target="xyxy", height=height, width=width)
        return {"boxes": boxes, "class_logits": raw_output["cls_logits"]}

    decode.reads_images = True  # type: ignore[attr-defined]
    return decode
