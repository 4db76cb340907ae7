"""The engine's entry point: explain(model, images) → one Explanation per image, computed in batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from gradcam_audit.core.engine.cam_engine import PREDICTED, CamEngine, engine_for
from gradcam_audit.core.engine.degenerate import degenerate_reason
from gradcam_audit.core.engine.discriminative import discrimination_warnings
from gradcam_audit.core.engine.mapping import Geometry, fit_image, plan_geometry, upsample_heatmap
from gradcam_audit.core.engine.methods import CamBatch, get_method
from gradcam_audit.core.engine.preprocessing import preprocess_function
from gradcam_audit.core.engine.targets import BoxTarget, DetectionMatch, TaskHead, TaskTarget, detection_match, no_match_reason, task_row, task_rows
from gradcam_audit.core.engine.tokens import attention_layers
from gradcam_audit.core.files.images import read_rgb
from gradcam_audit.core.spec.model import Preprocess
from gradcam_audit.core.spec.suggest import did_you_mean, listing
from gradcam_audit.errors import ModelError

__all__ = ["PREDICTED", "CamEngine", "Explanation", "engine_for", "explain", "resolve_target"]


@dataclass(frozen=True)
class Explanation:
    """One image's explanation.

    Attributes:
        heatmap: (h, w) map at the layer's resolution, after ReLU.
        heatmap_full: (H, W) map upsampled to the original image (zero where the model saw nothing).
        scores: (num_classes,) the score differentiated (logits by default).
        probabilities: (num_classes,) class probabilities.
        predicted_index / target_index: argmax of the scores / the class explained.
        layer / layer_reason / method / score_kind: what produced the map, and why.
        degenerate: why the map cannot be scored, or None.
        geometry: how the original image was fitted into the model's input.
        warnings: why the map, though scorable, may not answer the question (token models: it is not
            class-discriminative or near uniform), each naming the method to try instead; () when none.
    """

    heatmap: np.ndarray
    heatmap_full: np.ndarray
    scores: np.ndarray
    probabilities: np.ndarray
    predicted_index: int
    target_index: int
    layer: str
    layer_reason: str
    method: str
    score_kind: str
    degenerate: str | None
    geometry: Geometry
    warnings: tuple[str, ...] = ()
    # Segmentation / detection (core/engine/targets.py): the target as explained (a detection's candidate fixed, so
    # causal checks ask about the same one), the matched detection, and why the case cannot pass (no match).
    task_target: TaskTarget | None = None
    detection: DetectionMatch | None = None
    target_problem: str | None = None


def resolve_target(target: str | int | None, labels: Sequence[str] | None) -> int:
    if target is None:
        return PREDICTED
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if target < 0:
            raise ModelError(f"target index {target} is negative")
        return int(target)
    if labels is None:
        raise ModelError(f"target {target!r} is a class name but no labels were given; pass labels=[...] or a class index")
    if target not in labels:
        raise ModelError(f"unknown class {target!r}{did_you_mean(str(target), labels)}; labels: {listing(labels, 30)}")
    return list(labels).index(cast(str, target))  # a bool is never among the labels: rejected above


def _as_image(image: Any, channels: int) -> np.ndarray:
    if isinstance(image, (str, Path)):
        return read_rgb(Path(image), channels)
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, np.newaxis]
    if array.ndim != 3:
        raise ModelError(f"expected an image of shape (H, W, C), got {array.shape}")
    if array.shape[2] != channels and array.shape[2] in (1, 3) and channels in (1, 3):
        array = np.repeat(array, 3, axis=2) if channels == 3 else array.mean(axis=2, keepdims=True)
    return array


def _class_name(index: int, labels: Sequence[str] | None) -> str:
    return f"class {labels[index]!r}" if labels is not None and 0 <= index < len(labels) else f"class {index}"


def _alternative_method(method: str, engine: CamEngine) -> str:
    """The method a warning suggests: class-specific attention when the model has it, else Grad-CAM."""
    has_attention = bool(attention_layers(engine.model))
    if method == "gradrollout":
        return "gradcam (at the last attention's query input, layer: auto)"
    return "gradrollout" if has_attention else "gradcam"


def explain(
    model: Any,
    images: Sequence[Any],
    *,
    layer: str = "auto",
    targets: str | int | None | Sequence[str | int | None] = None,
    method: str = "gradcam",
    batch_size: int = 32,
    labels: Sequence[str] | None = None,
    output: str | int = 0,
    score: str = "logit",
    preprocess: Preprocess | str = "none",
    resize: str = "stretch",
    resize_filter: str = "bilinear",
    layer_grid: Sequence[int] | None = None,
    prefix_tokens: int | None = None,
    task: TaskHead | None = None,
    task_targets: Sequence[TaskTarget | None] | None = None,
) -> list[Explanation]:
    """Explain each image with a CAM method, batched.

    Args:
        model: a Keras 3 model (Functional, Sequential, nested backbone, subclassed, multi-output).
        images: (H, W, C) arrays with 0–255 pixel values, or image paths; sizes may differ.
        layer: "auto" or a layer name / nested path ("backbone/out_relu").
        targets: None (predicted class), a class index or name, or one of those per image.
        method: one of gradcam, gradcam++, hirescam, xgradcam, layercam, scorecam, eigencam, and for models with
            keras.layers.MultiHeadAttention: rollout, gradrollout.
        batch_size: images per forward pass (Score-CAM: masked images per forward pass).
        labels: class names in output order, to name targets.
        output: output name or index for multi-output models.
        score: "logit" (pre-softmax, default) or "probability".
        preprocess: a Preprocess, or a name (scale01, none, a keras.applications family).
        resize: stretch | center_crop | letterbox; heatmaps are mapped back to each original image.
        resize_filter: bilinear | nearest | bicubic | area: how pixels are resampled when fitting (use the model's
            training filter); it does not move anything, so regions map back the same way for every filter.
        layer_grid: (h, w) patch grid of a token layer (batch, tokens, channels), when its length is ambiguous.
        prefix_tokens: class/distillation/register tokens before the patches, when ambiguous.
        task: None (a classifier), or a SegmentationHead / DetectionHead (core/engine/targets.py).
        task_targets: with ``task``, one PixelTarget / BoxTarget per image: the pixels or the box explained.

    Returns:
        One Explanation per image, in order.

    Raises:
        ModelError: bad layer, output, target or target count.
    """
    cam_method = get_method(method)
    images = list(images)
    target_list: list[str | int | None] = (
        list(targets) if isinstance(targets, (list, tuple)) else [cast("str | int | None", targets)] * len(images)
    )
    if len(target_list) != len(images):
        raise ModelError(f"got {len(target_list)} targets for {len(images)} images: give one target per image, or a single target for all")
    resolved_targets = [resolve_target(target, labels) for target in target_list]
    engine = engine_for(model, layer=layer, output=output, score=score, layer_grid=layer_grid, prefix_tokens=prefix_tokens, task=task)
    targets_of_task: list[TaskTarget | None] = list(task_targets) if task_targets is not None else [None] * len(images)
    if task is not None and len(targets_of_task) != len(images):
        raise ModelError(f"a {task.name} model needs one target (pixels or box) per image: got {len(targets_of_task)} for {len(images)} images")
    plan = engine.attention_plan() if cam_method.uses_attention else None
    layer_reason = engine.layer_choice.reason if plan is None else f"{cam_method.name}: {plan.describe()} (layer: {engine.layer_choice.reason})"
    # The class-discrimination check is for token models, where Grad-CAM is known to go flat.
    check_discrimination = engine.token_layout is not None or plan is not None
    alternative = _alternative_method(cam_method.name, engine)
    if isinstance(preprocess, str):
        from gradcam_audit.core.engine.method_names import PREPROCESS_FAMILIES

        preprocess = Preprocess("family" if preprocess in PREPROCESS_FAMILIES else "builtin", preprocess)
    transform = preprocess_function(preprocess)
    height, width, channels = engine.input_shape
    arrays = [_as_image(image, channels) for image in images]
    geometries = [
        plan_geometry((array.shape[1], array.shape[0]), (width or array.shape[1], height or array.shape[0]), resize, resize_filter)
        for array in arrays
    ]
    results: list[Explanation | None] = [None] * len(images)
    # Images of different sizes can share a batch only when the model resizes them to one input size.
    groups: dict[tuple[int, int], list[int]] = {}
    for index, geometry in enumerate(geometries):
        groups.setdefault(geometry.input_size, []).append(index)
    for indices in groups.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            inputs = transform(np.stack([fit_image(arrays[i], geometries[i]) for i in chunk]))
            chunk_targets = np.array([resolved_targets[i] for i in chunk], dtype=np.int32)
            if engine.num_classes is not None:
                bad = [int(t) for t in chunk_targets if t >= engine.num_classes]
                if bad:
                    raise ModelError(
                        f"target class {bad[0]} is out of range: the model's output has {engine.num_classes} classes "
                        f"(0..{engine.num_classes - 1})"
                    )
            task_inputs = None
            if task is not None:
                grid = engine.output_grid(geometries[chunk[0]].input_size) if task.name == "segmentation" else None
                task_inputs = task_rows([task_row(targets_of_task[i], geometries[i], grid) for i in chunk])
            outputs = engine.run_batch(inputs, chunk_targets, cam_method, contrast=check_discrimination and cam_method.class_specific,
                                       task_inputs=task_inputs)
            batch = CamBatch(
                inputs=np.asarray(inputs, dtype=np.float32),
                activations=outputs.activations,
                gradients=outputs.gradients,
                targets=outputs.targets,
                class_probabilities=engine.class_probabilities,
                batch_size=batch_size,
                attention=outputs.attention,
                gradient_attention=outputs.gradient_attention,
                attention_tokens=plan.tokens if plan is not None else None,
                # Score-CAM's masked passes ask about the target explained here: the same pixels, the candidate matched now.
                task_inputs=None if task is None or task_inputs is None else task.rows_kept(task_inputs, outputs.task_extras),
            )
            raw_maps = cam_method.raw_maps(batch)
            contrast_maps = None
            if outputs.contrast_targets is not None and outputs.contrast_gradients is not None:
                contrast_maps = cam_method.raw_maps(
                    replace(batch, gradients=outputs.contrast_gradients, targets=outputs.contrast_targets,
                            gradient_attention=outputs.contrast_gradient_attention)
                )
            score_kind = engine.output_kind(outputs.output_is_probability)
            for position, index in enumerate(chunk):
                raw = raw_maps[position]
                reason = degenerate_reason(raw)
                if reason is not None and check_discrimination:
                    reason = f"{reason}; on this transformer try {alternative}"
                heatmap = np.maximum(np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0), 0.0) if reason is None else np.zeros_like(raw)
                task_target, match, problem = targets_of_task[index], None, None
                if isinstance(task_target, BoxTarget):
                    match = detection_match(outputs.task_extras, position, task_target, geometries[index])
                    if task_target.candidate < 0:
                        problem = None if match.matched else no_match_reason(match, _class_name(int(outputs.targets[position]), labels))
                        task_target = replace(task_target, candidate=match.candidate)
                results[index] = Explanation(
                    heatmap=heatmap,
                    heatmap_full=upsample_heatmap(heatmap, geometries[index]),
                    scores=outputs.scores[position],
                    probabilities=outputs.probabilities[position],
                    predicted_index=int(np.argmax(outputs.scores[position]) if outputs.predicted is None else outputs.predicted[position]),
                    target_index=int(outputs.targets[position]),
                    layer=engine.layer_choice.path,
                    layer_reason=layer_reason,
                    method=cam_method.name,
                    score_kind=score_kind,
                    degenerate=reason,
                    geometry=geometries[index],
                    warnings=discrimination_warnings(
                        cam_method.name,
                        cam_method.class_specific,
                        heatmap,
                        None if contrast_maps is None else np.maximum(np.nan_to_num(contrast_maps[position]), 0.0),
                        _class_name(int(outputs.targets[position]), labels),
                        None if outputs.contrast_targets is None else _class_name(int(outputs.contrast_targets[position]), labels),
                        alternative,
                    )
                    if check_discrimination and reason is None
                    else (),
                    task_target=task_target,
                    detection=match,
                    target_problem=problem,
                )
    return [result for result in results if result is not None]
