"""The one door for every file that reaches a report: inside the results' own folder, a picture by its content, bounded.

A results or baseline JSON is untrusted data (a CI artefact, a colleague's file): a name in its ``images`` must never
bring ``secret.env`` or ``.git/config`` into a report, inline or as a linked file.
"""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TypeVar

from gradcam_audit.errors import UnsafePathError

# A report picture is an overlay of one image: far below these. Above them the file is not ours (or a decompression
# bomb), and is skipped rather than read.
MAX_PICTURE_BYTES = 20_000_000
MAX_PICTURE_PIXELS = 40_000_000

# The formats a browser shows and PIL decodes, by their leading bytes (SVG is refused: it is text that can carry script).
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
    (b"\xff\xd8\xff", "image/jpeg", "JPEG"),
    (b"GIF87a", "image/gif", "GIF"),
    (b"GIF89a", "image/gif", "GIF"),
)


class PictureRefused(UnsafePathError):
    """A file named as a picture that the report will not show (outside the folder, not a picture, too large)."""


def confined_file(root: Path, name: object) -> Path | None:
    """The file ``name`` (a path written in a results file) inside ``root``, or None if it does not exist.

    Only relative paths without ``..`` whose real location (symlinks resolved) stays inside ``root`` are accepted.

    Raises:
        UnsafePathError: the path is absolute, climbs out with ``..``, leaves ``root`` through a symlink,
            or names something that is not a regular file.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise UnsafePathError(f"{name!r} is not a relative file name")
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        raise UnsafePathError(f"{name!r} is an absolute path; pictures are read only from inside {root}")
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise UnsafePathError(f"{name!r} climbs out with '..'; pictures are read only from inside {root}")
    real_root = root.resolve()
    candidate = (real_root / name).resolve()
    if not candidate.is_relative_to(real_root):
        raise UnsafePathError(f"{name!r} leads (through a symlink) to {candidate}, outside {root}")
    if not candidate.exists():
        return None
    if not candidate.is_file():
        raise UnsafePathError(f"{name!r} is not a regular file")
    return candidate


def picture_type(content: bytes) -> tuple[str, str]:
    """(MIME type, PIL format name) of ``content`` by its leading bytes.

    Raises:
        PictureRefused: the bytes start like none of PNG, JPEG, GIF or WebP.
    """
    for signature, mime, pil_format in _SIGNATURES:
        if content.startswith(signature):
            return mime, pil_format
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp", "WEBP"
    raise PictureRefused("its content is not a PNG, JPEG, WebP or GIF picture")


def _read_bounded(path: Path) -> bytes:
    with path.open("rb") as stream:
        content = stream.read(MAX_PICTURE_BYTES + 1)
    if len(content) > MAX_PICTURE_BYTES:
        raise PictureRefused(f"it is larger than {MAX_PICTURE_BYTES:,} bytes, more than any report picture")
    return content


def checked_picture_bytes(content: bytes) -> str:
    """The MIME type of ``content`` once it is known to be a whole, decodable picture of bounded size.

    Raises:
        PictureRefused: not a picture by its leading bytes, not decodable by PIL in that format, or too many pixels.
    """
    from PIL import Image

    mime, pil_format = picture_type(content)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[pil_format]) as image:
                width, height = image.size
                if width * height > MAX_PICTURE_PIXELS:
                    raise PictureRefused(f"it is {width}×{height} pixels, more than {MAX_PICTURE_PIXELS:,}")
                image.verify()
            with Image.open(io.BytesIO(content), formats=[pil_format]) as image:
                image.load()  # verify() skips the pixel data; decoding it catches a truncated body
    except PictureRefused:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PictureRefused(f"it starts like a {pil_format} picture but does not decode as one ({error})") from None
    return mime


def _checked_content(root: Path, name: object) -> tuple[Path, bytes] | None:
    """The picture ``name`` inside ``root`` and its bytes, read once and checked by place, size and content."""
    path = confined_file(root, name)
    if path is None:
        return None
    try:
        content = _read_bounded(path)
        checked_picture_bytes(content)
    except PictureRefused as error:
        raise PictureRefused(f"{name!r} is skipped: {error}") from None
    except OSError as error:
        raise PictureRefused(f"{name!r} cannot be read ({error.strerror or error})") from None
    return path, content


def checked_picture(root: Path, name: object) -> Path | None:
    """The picture ``name`` inside ``root`` once checked by place, size and content; None if it does not exist.

    Raises:
        UnsafePathError: outside ``root``, not a regular file, too large, or not a picture by its content.
    """
    checked = _checked_content(root, name)
    return checked[0] if checked is not None else None


T = TypeVar("T")


def refusal_note(context: str, kind: str, error: Exception) -> str:
    """The report's note for a refused picture: what was not shown and why in general words, never the file's name or
    path (a hostile name may itself be the secret, and the report is shared more widely than the warnings)."""
    if isinstance(error, PictureRefused):
        why = "the file is not a PNG, JPEG, WebP or GIF picture within the size bounds"
    else:
        why = "the file is outside the results folder or not a regular file"
    return f"Picture not shown: {context}images.{kind}: {why}."


def _through_door(images: Mapping[str, object], root: Path, warn: Callable[[str], None], context: str,
                  note: Callable[[str], None] | None, read: Callable[[Path, object], T | None]) -> dict[str, T]:
    """What ``read`` makes of each picture that passes the door, by kind; each refused one is skipped with a warning
    naming it and, with ``note``, a note for the report (see refusal_note)."""
    found: dict[str, T] = {}
    for kind, name in images.items():
        try:
            value = read(root, name)
        except UnsafePathError as error:
            warn(f"{context}images.{kind}: skipped: {error}")
            if note is not None:
                note(refusal_note(context, kind, error))
            continue
        if value is not None:
            found[kind] = value
    return found


def door_pictures(images: Mapping[str, object], root: Path, warn: Callable[[str], None], context: str = "",
                  note: Callable[[str], None] | None = None) -> dict[str, Path]:
    """The pictures of one case that pass the door, by kind (paths of checked files)."""
    return _through_door(images, root, warn, context, note, checked_picture)


def door_data_uris(images: Mapping[str, object], root: Path, warn: Callable[[str], None], context: str = "",
                   note: Callable[[str], None] | None = None) -> dict[str, str]:
    """Like door_pictures, as data URIs of the very bytes that were checked (each file read once)."""

    def data_uri(folder: Path, name: object) -> str | None:
        checked = _checked_content(folder, name)
        return bytes_data_uri(checked[1]) if checked is not None else None

    return _through_door(images, root, warn, context, note, data_uri)


def bytes_data_uri(content: bytes) -> str:
    """A data URI of picture bytes, typed by their content (never by a file name)."""
    mime, _ = picture_type(content)
    return f"data:{mime};base64," + base64.b64encode(content).decode("ascii")
