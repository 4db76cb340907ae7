"""Reading image files the way a phone or a labelling tool produced them (EXIF, grey, RGBA, 16-bit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradcam_audit.errors import ImageError


def _open(path: Path):  # type: ignore[no-untyped-def]
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ImageError(f"image not found: {path} (resolved path; image paths are relative to the spec file)")
    image = None
    try:
        image = Image.open(path)
        image.load()  # decode now: a truncated file must fail here, not half-way through an audit
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read (expected JPEG, PNG, BMP, TIFF, WebP, ...)") from None
    except Exception as error:  # noqa: BLE001 - Pillow raises many types (OSError, SyntaxError, DecompressionBombError, ...)
        if image is not None:
            image.close()  # a half-read file would otherwise stay open (ResourceWarning, an error under -W error)
        raise ImageError(f"{path}: unreadable or truncated image ({type(error).__name__}: {error}); re-export the file") from None
    return image


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) as the model will see the image: after EXIF orientation.

    Raises:
        ImageError: missing, unreadable or truncated file.
    """
    from PIL import ImageOps

    with _open(path) as image:
        return ImageOps.exif_transpose(image).size


def read_rgb(path: Path, channels: int = 3) -> np.ndarray:
    """Read an image as a uint8 array (H, W, channels), EXIF orientation applied.

    Transparent pixels are composited on white (what a viewer shows); grey images are replicated to RGB
    for 3-channel models, and colour images are converted to luminance for 1-channel models.
    """
    from PIL import Image, ImageOps

    with _open(path) as opened:  # multi-frame files (GIF, TIFF) stay open after load() unless closed
        image = ImageOps.exif_transpose(opened)
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
    """Read a region mask: non-zero pixels are inside. ``size`` is the photo's (width, height)."""
    with _open(path) as opened:
        mask_image = opened.convert("L")
    if mask_image.size != size:
        raise ImageError(
            f"{path}: mask is {mask_image.size[0]}×{mask_image.size[1]} but the image is {size[0]}×{size[1]}; "
            "draw the mask at the image's size"
        )
    return np.asarray(mask_image) > 0
