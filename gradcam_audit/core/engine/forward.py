"""Class probabilities of original-size images: fitted, preprocessed and run through the engine's forward-only pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcam_audit.core.engine.explain import engine_for
from gradcam_audit.core.engine.mapping import fit_image, plan_geometry
from gradcam_audit.core.engine.preprocessing import preprocess_function
from gradcam_audit.core.engine.targets import TaskHead, TaskTarget, task_row, task_rows
from gradcam_audit.core.spec.model import Preprocess


def forward_probabilities(
    model: Any,
    images: Sequence[np.ndarray],
    *,
    layer: str = "auto",
    output: str | int = 0,
    score: str = "logit",
    preprocess: Preprocess,
    resize: str = "stretch",
    resize_filter: str = "bilinear",
    batch_size: int = 32,
    task: TaskHead | None = None,
    task_targets: Sequence[TaskTarget | None] | None = None,
) -> np.ndarray:
    """(N, num_classes) class probabilities of N (H, W, C) 0–255 images, batched, no gradients.

    The images are fitted to the model's input exactly as `explain` fits them (same geometry, same preprocessing),
    and the engine is the one `explain` caches for (model, layer, output, score), so nothing is compiled twice.
    With a segmentation or detection ``task``, ``task_targets`` (one per image) say which pixels or which candidate
    each row's probabilities are about (a detection's candidate as chosen on the unmodified image).
    """
    if not images:
        return np.zeros((0, 0), dtype=np.float64)
    engine = engine_for(model, layer=layer, output=output, score=score, task=task)
    transform = preprocess_function(preprocess)
    height, width, _channels = engine.input_shape
    rows: list[np.ndarray | None] = [None] * len(images)
    groups: dict[tuple[int, int], list[int]] = {}
    geometries = []
    for index, image in enumerate(images):
        geometry = plan_geometry((image.shape[1], image.shape[0]), (width or image.shape[1], height or image.shape[0]), resize,
                                 resize_filter)
        geometries.append(geometry)
        groups.setdefault(geometry.input_size, []).append(index)
    for indices in groups.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            inputs = transform(np.stack([fit_image(images[i], geometries[i]) for i in chunk]))
            task_inputs = None
            if task is not None:
                grid = engine.output_grid(geometries[chunk[0]].input_size) if task.name == "segmentation" else None
                task_inputs = task_rows([task_row(task_targets[i] if task_targets is not None else None, geometries[i], grid) for i in chunk])
            probabilities = engine.class_probabilities(np.asarray(inputs, dtype=np.float32), task_inputs)
            for position, index in enumerate(chunk):
                rows[index] = probabilities[position]
    return np.stack([row for row in rows if row is not None])
