"""COCO detection JSON: images[] (id, file_name, width, height), categories[] (id, name), annotations[] (bbox x, y, w, h)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from gradcam_audit.core.annotations.errors import AnnotationError, ProblemList
from gradcam_audit.core.annotations.geometry import case_name, checked_box, checked_image_size
from gradcam_audit.core.annotations.model import AnnotatedImage, AnnotatedObject, AnnotationSet
from gradcam_audit.core.files.json_input import read_json
from gradcam_audit.core.spec.load import display_path
from gradcam_audit.core.spec.suggest import listing
from gradcam_audit.errors import Problem


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_identifier(value: Any) -> bool:
    # A list or object as an id cannot be looked up (and a float id would never match an int one reliably).
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _entry(kind: str, index: int, item: Any) -> str:
    identifier = item.get("id") if isinstance(item, dict) else None
    if identifier is not None and not _is_identifier(identifier):
        identifier = _shown(identifier)
    return f"{kind}[{index}]" + (f" (id {identifier})" if identifier is not None else "")


def _missing(item: Any, keys: tuple[str, ...]) -> list[str]:
    return [key for key in keys if not isinstance(item, dict) or key not in item]


def read_coco(source: Path, *, images_dir: Path | None = None, clip: bool = False) -> AnnotationSet:
    """Read a COCO ``instances_*.json``. ``bbox`` [x, y, width, height] becomes [x, y, x + width, y + height].

    Image ``file_name``s are relative to ``images_dir`` (default: the JSON file's folder).

    Raises:
        AnnotationError: every malformed entry, unknown id, missing image or box outside its image.
    """
    file = display_path(source)
    fix = "export the annotations as COCO JSON (images[], annotations[], categories[])"
    if not source.exists():
        raise AnnotationError([Problem(file, "", "annotation file not found")])
    # One bounded reader: a bbox of 10**400 is read as infinity (no OverflowError) and named by checked_box.
    data = read_json(source, "the JSON", lambda message: AnnotationError([Problem(file, "", message, fix=fix)]), strict_numbers=False)
    problems = ProblemList()
    if not isinstance(data, dict):
        raise AnnotationError([Problem(file, "", f"expected a JSON object with images, annotations and categories, got {type(data).__name__}")])
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            problems.add(file, key, f"missing list {key!r} at the top level" if key not in data else f"{key!r} is not a list",
                         "a COCO detection file has images[], annotations[] and categories[]")
    problems.raise_if_any()
    base = (images_dir or source.parent).resolve()

    categories: dict[Any, str] = {}
    for index, category in enumerate(data["categories"]):
        entry = _entry("categories", index, category)
        missing = _missing(category, ("id", "name"))
        if missing:
            problems.add(file, entry, f"missing key {', '.join(map(repr, missing))}", "each category needs id and name")
            continue
        if not _is_identifier(category["id"]):
            problems.add(file, f"categories[{index}]", f"id must be an integer or text, got {_shown(category['id'])}",
                         "each category needs an integer id")
            continue
        categories[category["id"]] = str(category["name"])

    images: dict[Any, tuple[Path, tuple[int, int] | None, str]] = {}
    for index, image in enumerate(data["images"]):
        entry = _entry("images", index, image)
        missing = _missing(image, ("id", "file_name", "width", "height"))
        if missing:
            problems.add(file, entry, f"missing key {', '.join(map(repr, missing))}", "each image needs id, file_name, width and height")
            continue
        if not _is_identifier(image["id"]):
            problems.add(file, f"images[{index}]", f"id must be an integer or text, got {_shown(image['id'])}",
                         "each image needs an integer id")
            continue
        if not all(_is_number(image[key]) and math.isfinite(image[key]) for key in ("width", "height")):
            problems.add(file, entry, f"width and height must be finite numbers, got {_shown(image['width'])} × {_shown(image['height'])}",
                         "re-export the annotations; width and height are the image's size in pixels")
            continue
        if image["id"] in images:
            problems.add(file, entry, f"duplicate image id {image['id']!r}")
            continue
        entry = f"{entry} {image['file_name']!r}"
        path = (base / str(image["file_name"])).resolve()
        size = checked_image_size(path, (image["width"], image["height"]), file, entry, problems)
        images[image["id"]] = (path, size, entry)

    objects: dict[Any, list[AnnotatedObject]] = {identifier: [] for identifier in images}
    for index, annotation in enumerate(data["annotations"]):
        entry = _entry("annotations", index, annotation)
        missing = _missing(annotation, ("image_id", "category_id", "bbox"))
        if missing:
            problems.add(file, entry, f"missing key {', '.join(map(repr, missing))}", "each annotation needs image_id, category_id and bbox")
            continue
        bad_ids = [key for key in ("image_id", "category_id") if not _is_identifier(annotation[key])]
        if bad_ids:
            problems.add(file, f"annotations[{index}]",
                         "; ".join(f"{key} must be an integer or text, got {_shown(annotation[key])}" for key in bad_ids),
                         "each annotation refers to an image and a category by their integer ids")
            continue
        if annotation["image_id"] not in images:
            problems.add(file, entry, f"image_id {annotation['image_id']!r} is not the id of any entry in images[]",
                         f"image ids are: {listing(map(str, images), 10)}")
            continue
        if annotation["category_id"] not in categories:
            problems.add(file, entry, f"category_id {annotation['category_id']!r} is not the id of any entry in categories[]",
                         f"category ids are: {listing(f'{key} ({name})' for key, name in categories.items())}")
            continue
        bbox = annotation["bbox"]
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(value) for value in bbox):
            problems.add(file, entry, f"bbox must be four numbers [x, y, width, height], got {bbox!r}")
            continue
        path, size, image_entry = images[annotation["image_id"]]
        if size is None:
            continue  # the image's own problem is already reported
        x, y, width, height = (float(value) for value in bbox)
        box = checked_box((x, y, x + width, y + height), size, file, f"{entry} on {image_entry}", problems, clip=clip)
        if box is not None:
            objects[annotation["image_id"]].append(AnnotatedObject(categories[annotation["category_id"]], entry, box=box))
    problems.raise_if_any()

    annotated = tuple(
        AnnotatedImage(path, size, tuple(objects[identifier]), entry, case_name(path, base))
        for identifier, (path, size, entry) in images.items()
        if size is not None
    )
    return AnnotationSet("coco", source, annotated, tuple(dict.fromkeys(categories.values())))
