"""labelme: one JSON per image with imagePath, imageWidth, imageHeight and shapes[] (rectangle, polygon)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gradcam_audit.core.annotations.errors import AnnotationError, ProblemList
from gradcam_audit.core.annotations.geometry import case_name, checked_box, checked_image_size, checked_polygon, image_files
from gradcam_audit.core.annotations.model import AnnotatedImage, AnnotatedObject, AnnotationSet
from gradcam_audit.core.files.json_input import read_json
from gradcam_audit.core.spec.load import display_path
from gradcam_audit.errors import Problem, ResultsError

SKIPPED_SHAPE_TYPES = ("point", "line", "linestrip", "points")  # no area: nothing to put heatmap mass into


def rectangle_to_box(points: list[list[float]]) -> tuple[float, float, float, float]:
    """labelme's two rectangle corners, in whichever order they were drawn → (x_min, y_min, x_max, y_max)."""
    (x_a, y_a), (x_b, y_b) = points
    return (min(x_a, x_b), min(y_a, y_b), max(x_a, x_b), max(y_a, y_b))


def _points(raw: Any) -> list[list[float]] | None:
    if not isinstance(raw, list):
        return None
    points: list[list[float]] = []
    for point in raw:
        if not isinstance(point, list) or len(point) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point):
            return None
        points.append([float(point[0]), float(point[1])])
    return points


def read_labelme(source: Path, *, images_dir: Path | None = None, clip: bool = False) -> AnnotationSet:
    """Read a folder of labelme JSON files (or one file). ``imagePath`` is relative to the JSON file,
    unless ``images_dir`` is given (then the image is looked up there by its file name).

    Raises:
        AnnotationError: malformed files and shapes, missing images, shapes outside their image.
    """
    if not source.exists():
        raise AnnotationError([Problem(display_path(source), "", "annotation folder not found")])
    files = [source] if source.is_file() else sorted(source.glob("*.json"))
    if not files:
        raise AnnotationError([Problem(display_path(source), "", "no .json files found", fix="give the folder labelme saved its .json files in")])
    folder = source.parent if source.is_file() else source
    base = (images_dir or folder).resolve()
    problems = ProblemList()
    notes: list[str] = []
    images: list[AnnotatedImage] = []
    categories: dict[str, None] = {}
    for json_path in files:
        file = display_path(json_path)
        try:  # one bounded reader; a coordinate of 1e400 is infinity, named by checked_polygon
            data = read_json(json_path, "the JSON", strict_numbers=False)
        except ResultsError as error:
            problems.add(file, "", str(error))
            continue
        if not isinstance(data, dict) or "imagePath" not in data or "shapes" not in data:
            missing = [key for key in ("imagePath", "shapes") if not isinstance(data, dict) or key not in data]
            problems.add(file, "", f"missing key {', '.join(map(repr, missing))}: not a labelme file?",
                         "labelme files have imagePath, imageWidth, imageHeight and shapes[]")
            continue
        image_path = ((images_dir / Path(str(data["imagePath"])).name) if images_dir else (json_path.parent / str(data["imagePath"]))).resolve()
        width, height = data.get("imageWidth"), data.get("imageHeight")
        declared = (int(width), int(height)) if isinstance(width, (int, float)) and isinstance(height, (int, float)) else None
        size = checked_image_size(image_path, declared, file, f"imagePath {data['imagePath']!r}", problems)
        if size is None:
            continue
        shapes = data["shapes"] if isinstance(data["shapes"], list) else []
        objects: list[AnnotatedObject] = []
        for index, shape in enumerate(shapes):
            label = str(shape.get("label", "")).strip() if isinstance(shape, dict) else ""
            entry = f"shapes[{index}]" + (f" ({label})" if label else "")
            if not isinstance(shape, dict) or not label:
                problems.add(file, entry, "missing 'label'", "each shape needs a label")
                continue
            shape_type = shape.get("shape_type") or "polygon"
            points = _points(shape.get("points"))
            if points is None:
                problems.add(file, entry, f"'points' must be a list of [x, y] pairs, got {shape.get('points')!r}")
                continue
            if shape_type in SKIPPED_SHAPE_TYPES:
                notes.append(f"{file}: {entry}: skipped a {shape_type!r} shape (it has no area)")
                continue
            if shape_type == "rectangle":
                if len(points) != 2:
                    problems.add(file, entry, f"a rectangle has two corner points, got {len(points)}")
                    continue
                box = checked_box(rectangle_to_box(points), size, file, entry, problems, clip=clip)
                if box is not None:
                    categories[label] = None
                    objects.append(AnnotatedObject(label, f"{file}: {entry}", box=box))
            elif shape_type == "polygon":
                polygon = checked_polygon(tuple((x, y) for x, y in points), size, file, entry, problems, clip=clip)
                if polygon is not None:
                    categories[label] = None
                    objects.append(AnnotatedObject(label, f"{file}: {entry}", polygon=polygon))
            else:
                problems.add(file, entry, f"shape_type {shape_type!r} is not supported",
                             "draw the object as a rectangle or a polygon")
        images.append(AnnotatedImage(image_path, size, tuple(objects), file, case_name(image_path, base)))
    problems.raise_if_any()
    # labelme writes no JSON for an image nobody labelled: report those images too.
    described = {image.image for image in images}
    for image_path in image_files(base):
        if image_path.resolve() not in described:
            images.append(AnnotatedImage(image_path.resolve(), (0, 0), (), display_path(image_path), case_name(image_path.resolve(), base)))
    return AnnotationSet("labelme", source, tuple(images), tuple(categories), tuple(notes))
