"""Pascal VOC: one XML file per image with <filename>, <size> and <object><name><bndbox>, 1-based inclusive pixels."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

from gradcam_audit.core.annotations.errors import AnnotationError, ProblemList
from gradcam_audit.core.annotations.geometry import case_name, checked_box, checked_image_size
from gradcam_audit.core.annotations.model import AnnotatedImage, AnnotatedObject, AnnotationSet
from gradcam_audit.core.spec.load import display_path
from gradcam_audit.errors import Problem


def voc_to_box(x_min: float, y_min: float, x_max: float, y_max: float) -> tuple[float, float, float, float]:
    """VOC's 1-based inclusive corners → our 0-based corners with exclusive maximum.

    Pixel columns xmin..xmax (1-based, both inside) are 0-based columns xmin-1..xmax-1, i.e. [xmin-1, xmax).
    """
    return (x_min - 1, y_min - 1, x_max, y_max)


def _annotation_files(source: Path) -> tuple[list[Path], Path]:
    """The XML files and the folder they are in: ``source`` itself, or its Annotations/ (VOCdevkit layout)."""
    if source.is_file():
        return [source], source.parent
    folder = source / "Annotations" if (source / "Annotations").is_dir() else source
    return sorted(folder.glob("*.xml")), folder


def _default_images_dir(folder: Path) -> Path:
    for candidate in (folder.parent / "JPEGImages", folder / "JPEGImages"):
        if candidate.is_dir():
            return candidate
    return folder


def _number(element: ElementTree.Element, path: str) -> float | None:
    text = element.findtext(path)
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


def read_voc(source: Path, *, images_dir: Path | None = None, clip: bool = False) -> AnnotationSet:
    """Read a folder of Pascal VOC XML files (or one file).

    Images are looked up by ``<filename>`` in ``images_dir`` (default: JPEGImages/ beside Annotations/,
    else the XML folder).

    Raises:
        AnnotationError: every malformed file or object, missing image or box outside its image.
    """
    if not source.exists():
        raise AnnotationError([Problem(display_path(source), "", "annotation folder not found")])
    files, folder = _annotation_files(source)
    if not files:
        raise AnnotationError([Problem(display_path(source), "", "no .xml files found",
                                       fix="give the folder holding the VOC XML files (or VOCdevkit/VOC2012 with Annotations/)")])
    base = (images_dir or _default_images_dir(folder)).resolve()
    problems = ProblemList()
    images: list[AnnotatedImage] = []
    categories: dict[str, None] = {}
    for xml_path in files:
        file = display_path(xml_path)
        try:
            root = ElementTree.parse(xml_path).getroot()
        except ElementTree.ParseError as error:
            problems.add(file, "", f"not valid XML ({error})")
            continue
        filename = (root.findtext("filename") or "").strip()
        if not filename:
            problems.add(file, "<filename>", "missing <filename>", "each VOC file names its image in <annotation><filename>")
            continue
        declared_width, declared_height = _number(root, "size/width"), _number(root, "size/height")
        declared = (int(declared_width), int(declared_height)) if declared_width and declared_height else None
        image_path = (base / filename).resolve()
        size = checked_image_size(image_path, declared, file, f"<filename> {filename!r}", problems)
        if size is None:
            continue
        objects: list[AnnotatedObject] = []
        for index, element in enumerate(root.findall("object")):
            name = (element.findtext("name") or "").strip()
            entry = f"object[{index}]" + (f" ({name})" if name else "")
            if not name:
                problems.add(file, entry, "missing <name>", "each <object> needs <name>class</name>")
                continue
            corners = [_number(element, f"bndbox/{key}") for key in ("xmin", "ymin", "xmax", "ymax")]
            if any(value is None for value in corners):
                missing = [key for key, value in zip(("xmin", "ymin", "xmax", "ymax"), corners) if value is None]
                problems.add(file, entry, f"missing or non-numeric <bndbox> value(s): {', '.join(missing)}",
                             "each <object> needs <bndbox><xmin><ymin><xmax><ymax> in pixels")
                continue
            x_min, y_min, x_max, y_max = (float(value) for value in corners if value is not None)
            box = checked_box(voc_to_box(x_min, y_min, x_max, y_max), size, file, entry, problems, clip=clip)
            if box is not None:
                categories[name] = None
                objects.append(AnnotatedObject(name, f"{file}: {entry}", box=box))
        images.append(AnnotatedImage(image_path, size, tuple(objects), file, case_name(image_path, base)))
    problems.raise_if_any()
    return AnnotationSet("voc", source, tuple(images), tuple(categories))
