"""Checking spec files without running an audit: everything the files alone tell, and with ``deep`` what needs the model.

The shallow check never imports TensorFlow; the deep one loads each model once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradcam_audit.core.files.images import image_size
from gradcam_audit.core.run.kept_warnings import KeptWarning, WarningLog, keep_warnings
from gradcam_audit.core.spec.load import (
    DEFAULTS_FILE_NAME,
    check_directory_defaults,
    discover_spec_files,
    display_path,
    parse_spec,
)
from gradcam_audit.core.spec.limits import read_bounded_text
from gradcam_audit.core.spec.model import ModelRef, Spec
from gradcam_audit.core.prediction_hints import Hint, prediction_hints
from gradcam_audit.core.spec.suggest import did_you_mean, listing
from gradcam_audit.core.spec.yaml_lines import LocatedDict, LocatedList, load_located_yaml, position_of_value
from gradcam_audit.errors import GradcamAuditError, ImageError, Problem

# Images are read as RGB or grey (see core.images.read_rgb): other channel counts cannot be fed to the model.
_SUPPORTED_CHANNELS = (1, 3)
# The methods that read a transformer's attention (engine.explain.CamEngine.attention_plan), not a layer's gradients.
_ROLLOUT_METHODS = ("rollout", "gradrollout")


@dataclass(frozen=True)
class ValidationReport:
    """What validation found.

    Attributes:
        problems: every problem, in file order, each with file, line, column, field, message and fix.
        files: number of spec files checked.
        cases: number of cases in them (valid and invalid).
        deep: whether the models were loaded.
        hints: with ``deep``, predictions that look wrong for a spec's preprocessing (warnings: ``ok`` ignores them).
        kept_warnings: third-party warnings raised while loading and running the models, each once.
    """

    problems: tuple[Problem, ...]
    files: int
    cases: int
    deep: bool = False
    hints: tuple[Hint, ...] = ()
    kept_warnings: tuple[KeptWarning, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line: 'ok: 2 spec files, 48 cases, no problems' or '3 problems in 1 of 2 spec files'."""
        depth = " (deep: models loaded)" if self.deep else ""
        if self.hints:
            depth += f"; {len(self.hints)} warning{'s' if len(self.hints) != 1 else ''} about predictions"
        if self.ok:
            return f"ok: {self.files} spec file(s), {self.cases} case(s), no problems{depth}"
        count = len(self.problems)
        files_with_problems = len({problem.file for problem in self.problems})
        return f"{count} problem{'s' if count != 1 else ''} in {files_with_problems} file(s) of {self.files} spec file(s){depth}"


def validate_paths(paths: Iterable[Path | str], *, deep: bool = False, check_images: bool = True) -> ValidationReport:
    """Validate spec files and folders of spec files, collecting every problem instead of stopping at the first.

    Shallow (the default) checks what the files alone tell: YAML syntax, unknown keys (with did-you-mean), types
    and ranges, class names against ``labels``, duplicate ids, model/label/image/mask files existing and decoding,
    and boxes/polygons inside their images. It never imports TensorFlow.

    ``deep=True`` also loads each model once (``core.models.load_model``) and checks, per spec whose file-level
    part is valid: the model loads; its input is a 4-D image with 1 or 3 channels; ``preprocess`` mean/std fit
    the channels; ``output`` exists; ``layer`` exists (``engine.layers.resolve_layer``; the message lists the
    candidates) or ``auto`` finds one; a token layer's ``layer_grid`` / ``prefix_tokens`` fit its sequence and
    ``rollout`` / ``gradrollout`` find self-attention (engine.tokens.TokenLayoutError names the key to fix and the
    layouts that fit); the number of ``labels`` equals the output size; class indices fit the
    output; required regions are not cropped away by ``resize: center_crop``. Then it runs the model on the cases of
    each spec without problems and adds a hint (``report.hints``, a warning, never a problem) when the predictions
    look wrong for the spec's ``preprocess`` (core/prediction_hints.py).

    Args:
        paths: spec files and/or folders (searched recursively for ``*.yaml`` / ``*.yml``; ``_defaults.yaml``
            files are checked as directory defaults). A missing path is a problem, not an exception.
        deep: load the models too (slow: imports TensorFlow).
        check_images: open every image and mask (leave True except in tests of other parts).

    Returns:
        A ValidationReport. A command line prints ``problem.format()`` for each problem and
        ``report.summary()`` last, and exits non-zero unless ``report.ok``. Problems are deduplicated:
        a ``_defaults.yaml`` shared by several specs is reported once.
    """
    collected: list[Problem] = []
    given = [Path(raw) for raw in paths]
    for path in given:
        if not path.exists():
            collected.append(Problem(str(path), "", "no such file or directory", fix="check the path (relative to the working directory)"))
    existing = [path for path in given if path.exists()]
    spec_files = [path for path in discover_spec_files(existing) if path.name != DEFAULTS_FILE_NAME]
    for defaults_file in _directory_defaults_files(existing):
        collected.extend(check_directory_defaults(defaults_file))
    if not spec_files and not collected:
        collected.append(Problem(", ".join(str(path) for path in given) or ".", "", "no spec files (*.yaml, *.yml) found",
                                 fix="give spec files or folders that contain them"))
    case_count = 0
    models: dict[ModelRef, Any] = {}
    hints: list[Hint] = []
    kept = WarningLog()
    for spec_path in spec_files:
        parsed = parse_spec(spec_path, check_images=check_images)
        collected.extend(parsed.all_problems)
        if parsed.spec is not None:
            case_count += len(parsed.spec.cases) + len(parsed.spec.invalid_cases)
        if deep and parsed.spec is not None and not parsed.problems:
            with keep_warnings(kept):
                deep_found = _guarded_deep_problems(parsed.spec, models)
                collected.extend(deep_found)
                if not deep_found:
                    hints.extend(_guarded_prediction_hints(parsed.spec, models[parsed.spec.model]))
    return ValidationReport(_unique(collected), len(spec_files), case_count, deep, tuple(hints), kept.kept())


def _directory_defaults_files(paths: Sequence[Path]) -> list[Path]:
    found: dict[Path, None] = {}
    for path in paths:
        resolved = path.resolve()
        if resolved.is_dir():
            for candidate in sorted(resolved.rglob(DEFAULTS_FILE_NAME)):
                found[candidate] = None
        elif resolved.name == DEFAULTS_FILE_NAME:
            found[resolved] = None
    return list(found)


def _unique(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    seen: set[tuple[Any, ...]] = set()
    unique: list[Problem] = []
    for problem in problems:
        identity = (problem.file, problem.line, problem.column, problem.field, problem.message)
        if identity not in seen:
            seen.add(identity)
            unique.append(problem)
    return tuple(unique)


class _Locator:
    """Finds a field's file, line and column in a spec (or the directory's _defaults.yaml it inherits from)."""

    def __init__(self, spec_path: Path) -> None:
        self.sources: list[tuple[str, Any]] = []
        for path in (spec_path, spec_path.parent / DEFAULTS_FILE_NAME):
            try:
                data = load_located_yaml(read_bounded_text(path), display_path(path))
            except Exception:  # noqa: BLE001 - the loader already reported unreadable files; locate without lines
                continue
            if isinstance(data, LocatedDict):
                self.sources.append((display_path(path), data))
        self.spec_file = display_path(spec_path)

    def problem(self, field_path: tuple[str | int, ...], field: str, message: str, fix: str) -> Problem:
        for file, data in self.sources:
            if field_path[0] not in data:
                continue
            container: Any = data
            for part in field_path[:-1]:
                if isinstance(container, LocatedDict) and part in container:
                    container = container[part]
                elif isinstance(container, LocatedList) and isinstance(part, int) and 0 <= part < len(container):
                    container = container[part]
                else:
                    break
            position = position_of_value(container, field_path[-1])
            return Problem(file, field, message, line=position.line if position else None,
                           column=position.column if position else None, fix=fix)
        return Problem(self.spec_file, field, message, fix=fix)


def _shape(tensors: Any) -> tuple[Any, ...] | None:
    try:
        return tuple(tensors[0].shape) if tensors else None
    except (AttributeError, ValueError, TypeError, IndexError):
        return None


def _guarded_deep_problems(spec: Spec, models: dict[ModelRef, Any]) -> list[Problem]:
    """deep_problems, with anything TensorFlow or a user's model raises turned into a problem of this spec only,
    so one unusual model never hides what the other specs have to say."""
    try:
        return deep_problems(spec, models)
    except Exception as error:  # noqa: BLE001 - Keras/TensorFlow raise many types on models we cannot explain
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return [_Locator(spec.path).problem(("model",), "model",
                                            f"checking the model failed ({type(error).__name__}: {first_line[:300]})",
                                            "check that the model takes one image batch (N, H, W, C) and returns class scores")]


def _guarded_prediction_hints(spec: Spec, model: Any) -> list[Hint]:
    """prediction_hints, with a model that cannot run on the cases said as a hint (a run would fail each case)."""
    try:
        return prediction_hints(spec, model)
    except Exception as error:  # noqa: BLE001 - Keras/TensorFlow raise many types on models we cannot explain
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return [Hint(display_path(spec.path), f"running the model on the cases failed ({type(error).__name__}: {first_line[:300]}); "
                                              "the predictions were not checked")]


def deep_problems(spec: Spec, models: dict[ModelRef, Any] | None = None) -> list[Problem]:
    """The checks that need the model (see validate_paths); ``models`` caches loaded models across specs."""
    from gradcam_audit.core.run.models import load_model

    models = {} if models is None else models
    locator = _Locator(spec.path)
    problems: list[Problem] = []
    try:
        if spec.model not in models:
            models[spec.model] = load_model(spec.model)
        model = models[spec.model]
    except GradcamAuditError as error:
        return [locator.problem(("model",), "model", str(error), "check the file, or give a custom loader")]
    except Exception as error:  # noqa: BLE001 - a custom loader is user code and may raise anything
        return [locator.problem(("model",), "model", f"loading the model raised {type(error).__name__}: {error}",
                                "fix the custom loader so it returns a keras.Model")]

    input_count = len(getattr(model, "inputs", None) or [])
    if input_count > 1:
        return [locator.problem(("model",), "model", f"the model has {input_count} inputs; an audit feeds it one image batch",
                                "audit a model with a single image input (wrap the others as constants in a keras.Model)")]
    input_shape = _shape(getattr(model, "inputs", None))
    channels: int | None = None
    if input_shape is None or len(input_shape) != 4:
        problems.append(locator.problem(("model",), "model", f"the model's input is not a 4-D image batch (got shape {input_shape})",
                                        "build the model with keras.Input((height, width, channels))"))
    else:
        channels = int(input_shape[3]) if input_shape[3] is not None else None
        if channels is not None and channels not in _SUPPORTED_CHANNELS:
            problems.append(locator.problem(("model",), "model", f"the model expects {channels} input channels; images are read as RGB (3) or grey (1)",
                                            "use a model with 1- or 3-channel input, or a custom preprocess that builds the channels"))
    if channels is not None and spec.preprocess.kind == "affine":
        for key, vector in (("mean", spec.preprocess.mean), ("std", spec.preprocess.std)):
            if len(vector) not in (0, 1, channels):
                problems.append(locator.problem(("preprocess", key), f"preprocess.{key}",
                                                f"got {len(vector)} values for a model with {channels} input channels",
                                                f"give one value, or one per channel ({channels})"))

    num_classes, output_problem = _output_size(model, spec.output)
    if output_problem is not None:
        problems.append(locator.problem(("output",), "output", output_problem, "name an existing output, or give its index"))

    layer_ok = True
    if spec.layer != "auto":
        from gradcam_audit.core.engine.layers import resolve_layer

        try:
            resolve_layer(model, spec.layer)
        except GradcamAuditError as error:
            layer_ok = False
            problems.append(locator.problem(("layer",), "layer", str(error), "use one of the layers listed, or layer: auto"))
    if not problems and layer_ok:
        problems.extend(_engine_problems(spec, model, locator))

    if num_classes is not None and spec.task != "detection":  # a detector's classes are known only after decoding
        problems.extend(_class_problems(spec, num_classes, locator))
    if input_shape is not None and len(input_shape) == 4 and spec.resize == "center_crop":
        problems.extend(_cropped_region_problems(spec, input_shape, locator))
    return problems


def _engine_problems(spec: Spec, model: Any, locator: _Locator) -> list[Problem]:
    """What the engine's own set-up finds, exactly as a run would: auto layer selection, the input declaration, the
    token layout of a transformer layer (`layer_grid`, `prefix_tokens`) and the attention rollout methods need."""
    from gradcam_audit.core.engine.explain import CamEngine
    from gradcam_audit.core.engine.tokens import TokenLayoutError
    from gradcam_audit.core.run.task_cases import task_head

    try:
        engine = CamEngine(model, layer=spec.layer, output=spec.output, score=spec.score, layer_grid=spec.layer_grid,
                           prefix_tokens=spec.prefix_tokens, task=task_head(spec, model))
    except TokenLayoutError as error:
        return [_token_problem(spec, error, locator)]
    except GradcamAuditError as error:
        return [locator.problem(("layer",), "layer", str(error), "name a convolutional layer with `layer:`")]
    rollouts = [method for method in spec.methods if method in _ROLLOUT_METHODS]
    if not rollouts:
        return []
    try:
        engine.attention_plan()
    except TokenLayoutError as error:
        return [_token_problem(spec, error, locator)]
    except GradcamAuditError as error:
        return [locator.problem(("method",), "method", f"method {rollouts[0]!r}: {error}",
                                "use gradcam (or another CAM method) for a model without self-attention")]
    return []


def _token_problem(spec: Spec, error: Any, locator: _Locator) -> Problem:
    """A token-layout mistake, at the key to fix (or at `layer` when the spec gave neither key)."""
    field = error.field
    if getattr(spec, field) is None:  # the spec gave no such key: the layout was inferred and is ambiguous
        return locator.problem(("layer",), "layer", str(error), error.fix)
    return locator.problem((field,), field, f"got {field}: {_spec_value(getattr(spec, field))}; {error}", error.fix)


def _spec_value(value: Any) -> str:
    return f"[{', '.join(str(item) for item in value)}]" if isinstance(value, tuple) else str(value)


def _output_size(model: Any, output: str | int) -> tuple[int | None, str | None]:
    """(number of classes of the chosen output, or None if unknown; why the output does not exist, or None)."""
    outputs = list(getattr(model, "outputs", None) or [])
    if not outputs:
        return None, None
    if isinstance(output, int):
        if output >= len(outputs):
            return None, f"output index {output} is out of range: the model has {len(outputs)} output(s)"
        index = output
    else:
        output_names = [str(name) for name in (getattr(model, "output_names", None) or [])]
        if output not in output_names:
            return None, f"the model has no output {output!r}{did_you_mean(output, output_names)}; outputs: {listing(output_names) or 'unnamed'}"
        index = output_names.index(output)
    last_dimension = tuple(outputs[index].shape)[-1]
    # A single sigmoid unit is explained as two classes (negative, positive), as the engine does.
    return (None if last_dimension is None else max(int(last_dimension), 2)), None


def _class_problems(spec: Spec, num_classes: int, locator: _Locator) -> list[Problem]:
    problems: list[Problem] = []
    if spec.labels is not None and len(spec.labels) != num_classes:
        problems.append(locator.problem(("labels",), "labels",
                                        f"got {len(spec.labels)} labels but the model's output has {num_classes} classes",
                                        f"list exactly {num_classes} class names, in the model's output order"))
    for case in spec.cases:
        index = _case_index(spec, case.id)
        for key, value in (("target", case.target), ("expect_class", case.expect_class)):
            if isinstance(value, int) and value >= num_classes:
                problems.append(locator.problem(("cases", index, key), f"cases[{index}].{key}",
                                                f"class index {value} is out of range: the model's output has {num_classes} classes",
                                                f"use an index in 0..{num_classes - 1}"))
    return problems


def _case_index(spec: Spec, case_id: str) -> int:
    # Valid and invalid cases interleave in file order; the index is the case's position in `cases:`.
    invalid = {invalid_case.index for invalid_case in spec.invalid_cases}
    position = 0
    for case in spec.cases:
        while position in invalid:
            position += 1
        if case.id == case_id:
            return position
        position += 1
    return position


def _cropped_region_problems(spec: Spec, input_shape: tuple[Any, ...], locator: _Locator) -> list[Problem]:
    """Required boxes that `resize: center_crop` cuts away entirely: the model never sees them, so they always fail."""
    height, width = input_shape[1], input_shape[2]
    if height is None or width is None:
        return []
    problems: list[Problem] = []
    for case in spec.cases:
        try:
            original_width, original_height = image_size(case.image)
        except ImageError:
            continue  # reported by the shallow check
        factor = max(width / original_width, height / original_height)
        visible_width, visible_height = width / factor, height / factor
        x_start, y_start = (original_width - visible_width) / 2, (original_height - visible_height) / 2
        index = _case_index(spec, case.id)
        for region_index, region in enumerate(case.regions):
            box = region.shape.box
            if not region.is_required or box is None:
                continue
            scale_x, scale_y = (original_width, original_height) if region.shape.normalized else (1, 1)
            x_min, y_min, x_max, y_max = box[0] * scale_x, box[1] * scale_y, box[2] * scale_x, box[3] * scale_y
            if x_max <= x_start or x_min >= x_start + visible_width or y_max <= y_start or y_min >= y_start + visible_height:
                problems.append(locator.problem(
                    ("cases", index, "regions", region_index, "box"), f"cases[{index}].regions[{region_index}].box",
                    f"box {list(box)} lies outside the centre crop the model sees "
                    f"(x {x_start:.0f}..{x_start + visible_width:.0f}, y {y_start:.0f}..{y_start + visible_height:.0f} of "
                    f"{original_width}×{original_height})",
                    "use resize: letterbox or stretch, or crop the image so the object is central"))
    return problems
