"""YOLO: one .txt per image, lines 'class cx cy w h' (or 'class x1 y1 x2 y2 ...' polygons) normalised to [0, 1]."""

from __future__ import annotations

from pathlib import Path

from gradcam_audit.core.annotations.errors import AnnotationError, ProblemList
from gradcam_audit.core.annotations.geometry import case_name, checked_box, checked_image_size, checked_polygon, image_files
from gradcam_audit.core.annotations.model import AnnotatedImage, AnnotatedObject, AnnotationSet
from gradcam_audit.core.spec.load import display_path
from gradcam_audit.errors import Problem

CLASSES_FILE_NAMES = ("classes.txt", "obj.names")


def yolo_to_box(values: tuple[float, float, float, float], size: tuple[int, int]) -> tuple[float, float, float, float]:
    """Normalised (cx, cy, w, h) → pixel (x_min, y_min, x_max, y_max) on an image of ``size`` = (width, height)."""
    centre_x, centre_y, box_width, box_height = values
    width, height = size
    return (
        (centre_x - box_width / 2) * width,
        (centre_y - box_height / 2) * height,
        (centre_x + box_width / 2) * width,
        (centre_y + box_height / 2) * height,
    )


def read_class_names(path: Path) -> tuple[str, ...]:
    """One class name per line; line i is class index i."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise AnnotationError([Problem(display_path(path), "", f"cannot read the classes file ({error.strerror})",
                                       fix="give --classes classes.txt: one class name per line, line 1 is class 0")]) from None
    names = tuple(line.strip() for line in lines if line.strip())
    if not names:
        raise AnnotationError([Problem(display_path(path), "", "the classes file is empty")])
    return names


def _default_images_dir(labels_dir: Path) -> Path:
    """Ultralytics keeps images/ beside labels/ (…/images/train ↔ …/labels/train); else images sit with the labels."""
    parts = list(labels_dir.parts)
    if "labels" in parts:
        index = len(parts) - 1 - parts[::-1].index("labels")
        candidate = Path(*parts[:index], "images", *parts[index + 1 :])
        if candidate.is_dir():
            return candidate
    return labels_dir


def _image_for(label_file: Path, images: dict[str, Path]) -> Path | None:
    return images.get(label_file.stem)


def read_yolo(source: Path, *, classes: Path | None, images_dir: Path | None = None, clip: bool = False) -> AnnotationSet:
    """Read a folder of YOLO label files. Image sizes are read from the images (YOLO does not record them).

    Raises:
        AnnotationError: unreadable lines, class indices outside classes.txt, label files without an image,
            boxes outside the image.
    """
    if not source.is_dir():
        raise AnnotationError([Problem(display_path(source), "", "labels folder not found", fix="give the folder with one .txt per image")])
    if classes is None:
        found = [source / name for name in CLASSES_FILE_NAMES if (source / name).is_file()]
        if not found:
            raise AnnotationError([Problem(display_path(source), "", "no classes file",
                                           fix="give --classes classes.txt (one class name per line, line 1 is class 0)")])
        classes = found[0]
    class_names = read_class_names(classes)
    base = (images_dir or _default_images_dir(source)).resolve()
    images_by_stem = {path.stem: path.resolve() for path in image_files(base)}
    if not images_by_stem:
        raise AnnotationError([Problem(display_path(base), "", "no image files in the images folder",
                                       fix="give --images DIR, the folder holding the images the .txt files describe")])
    label_files = sorted(path for path in source.glob("*.txt") if path.name not in CLASSES_FILE_NAMES and path.resolve() != classes.resolve())
    problems = ProblemList()
    annotated: dict[str, AnnotatedImage] = {}
    used: dict[int, None] = {}
    for label_file in label_files:
        file = display_path(label_file)
        image_path = _image_for(label_file, images_by_stem)
        if image_path is None:
            problems.add(file, "", f"no image named {label_file.stem}.* in {display_path(base)}",
                         "give --images DIR with the images, named like their label files")
            continue
        size = checked_image_size(image_path, None, file, "", problems)
        if size is None:
            continue
        objects: list[AnnotatedObject] = []
        for line_number, line in enumerate(label_file.read_text(encoding="utf-8").splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            entry = f"line {line_number}"
            try:
                class_index = int(fields[0])
                numbers = tuple(float(value) for value in fields[1:])
            except ValueError:
                problems.add(file, entry, f"expected 'class cx cy w h' (an integer and four numbers), got {line.strip()!r}")
                continue
            if not 0 <= class_index < len(class_names):
                problems.add(file, entry, f"class index {class_index} is not in {display_path(classes)}, which has "
                             f"{len(class_names)} classes (0..{len(class_names) - 1})", "check --classes: line 1 is class 0")
                continue
            name = class_names[class_index]
            if len(numbers) == 4:
                if not all(0.0 <= value <= 1.0 for value in numbers):
                    problems.add(file, entry, f"values {list(numbers)} are not normalised to [0, 1]",
                                 "YOLO boxes are 'class cx cy w h' as fractions of the image's width and height")
                    continue
                box = checked_box(yolo_to_box(numbers[:4], size), size, file, entry, problems, clip=clip)
                if box is not None:
                    used[class_index] = None
                    objects.append(AnnotatedObject(name, f"{file}: {entry}", box=box))
            elif len(numbers) >= 6 and len(numbers) % 2 == 0:
                points = tuple((numbers[i] * size[0], numbers[i + 1] * size[1]) for i in range(0, len(numbers), 2))
                polygon = checked_polygon(points, size, file, entry, problems, clip=clip)
                if polygon is not None:
                    used[class_index] = None
                    objects.append(AnnotatedObject(name, f"{file}: {entry}", polygon=polygon))
            else:
                problems.add(file, entry, f"expected 'class cx cy w h' or a polygon 'class x1 y1 x2 y2 x3 y3 ...', got {len(fields)} values")
        annotated[label_file.stem] = AnnotatedImage(image_path, size, tuple(objects), file, case_name(image_path, base))
    problems.raise_if_any()
    # Images with no label file at all are unannotated too (YOLO writes no file for an empty image).
    for stem, image_path in images_by_stem.items():
        if stem not in annotated:
            annotated[stem] = AnnotatedImage(image_path, (0, 0), (), display_path(image_path), case_name(image_path, base))
    ordered = tuple(annotated[stem] for stem in sorted(annotated))
    return AnnotationSet("yolo", source, ordered, class_names)
