"""Names of the spec's fixed choices (resize modes and filters, box formats, preprocessing families), TensorFlow-free.

CAM methods and removal operators are not listed here: their registries (``core/engine/methods.py``,
``core/evaluate/removal.py``, NumPy only) are the only lists.
"""

from __future__ import annotations

RESIZE_MODES: tuple[str, ...] = ("stretch", "center_crop", "letterbox")
# The resampling filter used to fit an image to the model's input; the first is the default. "area" averages the
# source pixels each output pixel covers (PIL's BOX filter, OpenCV's INTER_AREA for downscaling).
RESIZE_FILTERS: tuple[str, ...] = ("bilinear", "nearest", "bicubic", "area")
DEFAULT_RESIZE_FILTER = RESIZE_FILTERS[0]
BOX_FORMATS: tuple[str, ...] = ("xyxy", "xywh", "cxcywh")
SCORE_KINDS: tuple[str, ...] = ("logit", "probability")

# keras.applications families whose preprocess_input we can call; "scale01" and "none" are ours.
PREPROCESS_FAMILIES: tuple[str, ...] = (
    "xception",
    "mobilenet",
    "mobilenet_v2",
    "mobilenet_v3",
    "inception_v3",
    "inception_resnet_v2",
    "resnet50",
    "resnet",
    "resnet_v2",
    "vgg16",
    "vgg19",
    "densenet",
    "efficientnet",
    "efficientnet_v2",
    "nasnet",
    "convnext",
)
PREPROCESS_BUILTINS: tuple[str, ...] = ("scale01", "none")
