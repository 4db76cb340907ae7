"""Reading image files the way a phone or a labelling tool produced them (EXIF, grey, RGBA, 16-bit)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from gradcam_audit.errors import ImageError


MAX_IMAGE_PIXELS_VARIABLE = "GRADCAM_MAX_IMAGE_PIXELS"
# Pillow's own warning threshold (~ 9459 × 9459): a larger image is refused before it is decoded, so a
# decompression bomb (a tiny file that expands to gigabytes of pixels) cannot exhaust memory.
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485


def max_image_pixels() -> int:
    """The most pixels (width × height) an image may have (GRADCAM_MAX_IMAGE_PIXELS, default 89 478 485)."""
    raw = os.environ.get(MAX_IMAGE_PIXELS_VARIABLE, "").strip().replace("_", "")
    if not raw:
        return DEFAULT_MAX_IMAGE_PIXELS
    if not raw.isdigit() or int(raw) <= 0:
        raise ImageError(f"{MAX_IMAGE_PIXELS_VARIABLE}={os.environ[MAX_IMAGE_PIXELS_VARIABLE]!r} is not a positive whole "
                         f"number of pixels; unset it (default {DEFAULT_MAX_IMAGE_PIXELS}) or give e.g. "
                         f"{MAX_IMAGE_PIXELS_VARIABLE}={DEFAULT_MAX_IMAGE_PIXELS * 2}")
    return int(raw)


def _too_large(path: Path, size: tuple[int, int] | None, limit: int) -> ImageError:
    dimensions = f"{size[0]}×{size[1]} = {size[0] * size[1]:,} pixels" if size else "too many pixels"
    return ImageError(f"{path}: the image is {dimensions}, over the limit of {limit:,} pixels (a decompression bomb, "
                      f"or a photo far larger than a model needs); shrink it, or raise the limit with the environment "
                      f"variable {MAX_IMAGE_PIXELS_VARIABLE}")


def _open(path: Path):  # type: ignore[no-untyped-def]
    from PIL import Image, UnidentifiedImageError

    if path.exists() and not path.is_file():
        raise ImageError(f"{path}: not a regular file (a folder, pipe or device); give an image file")
    if not path.is_file():
        raise ImageError(f"image not found: {path} (resolved path; image paths are relative to the spec file)")
    limit = max_image_pixels()
    image = None
    try:
        with warnings.catch_warnings():
            # Our own limit below decides; Pillow's warning would be an exception under -W error, or noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        width, height = image.size
        if width * height > limit:
            raise _too_large(path, (width, height), limit)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()  # decode now: a truncated file must fail here, not half-way through an audit
    except ImageError:
        if image is not None:
            image.close()
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read (expected JPEG, PNG, BMP, TIFF, WebP, ...)") from None
    except Image.DecompressionBombError:
        if image is not None:
            image.close()
        raise _too_large(path, image.size if image is not None else None, limit) from None
    except Exception as error:  # noqa: BLE001 - Pillow raises many types (OSError, SyntaxError, ...)
        if image is not None:
            image.close()  # a half-read file would otherwise stay open (ResourceWarning, an error under -W error)
        raise ImageError(f"{path}: unreadable or truncated image ({type(error).__name__}: {error}); re-export the file") from None
    return image


def _oriented(image, path: Path):  # type: ignore[no-untyped-def]
    """The image turned upright as its EXIF orientation says (what a viewer shows, and what boxes refer to)."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(image)
    except Exception as error:  # noqa: BLE001 - a malformed EXIF block: Pillow raises many types
        raise ImageError(f"{path}: the EXIF orientation cannot be read ({type(error).__name__}: {error}); "
                         "save the image again without EXIF data") from None


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) as the model will see the image: after EXIF orientation.

    Raises:
        ImageError: missing, unreadable or truncated file.
    """
    with _open(path) as image:
        width, height = _oriented(image, path).size
        return int(width), int(height)


def read_rgb(path: Path, channels: int = 3) -> np.ndarray:
    """Read an image as a uint8 array (H, W, channels), EXIF orientation applied.

    Transparent pixels are composited on white (what a viewer shows); grey images are replicated to RGB
    for 3-channel models, and colour images are converted to luminance for 1-channel models.
    """
    from PIL import Image

    with _open(path) as opened:  # multi-frame files (GIF, TIFF) stay open after load() unless closed
        image = _oriented(opened, path)
        image.load()
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale (medical, scientific): scale to 8 bits instead of clipping.
        array16 = np.asarray(image, dtype=np.float64)
        peak = array16.max() or 1.0
        image = Image.fromarray((array16 / peak * 255.0).round().astype(np.uint8))
    image = image.convert("L" if channels == 1 else "RGB")
    array = np.asarray(image, dtype=np.uint8)
    if channels == 1:
        array = array[:, :, np.newaxis]
    return array


def read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Read a region mask: non-zero pixels are inside. ``size`` is the photo's (width, height), after EXIF orientation.

    The mask's own EXIF orientation is applied, exactly as for photos (and as ``image_size`` reports it), so a
    mask saved by a phone-aware tool lines up with the photo the model sees.
    """
    with _open(path) as opened:
        mask_image = _oriented(opened, path).convert("L")
    if mask_image.size != size:
        raise ImageError(
            f"{path}: mask is {mask_image.size[0]}×{mask_image.size[1]} (after its EXIF orientation) but the image is "
            f"{size[0]}×{size[1]}; draw the mask at the image's size"
        )
    return np.asarray(mask_image) > 0
