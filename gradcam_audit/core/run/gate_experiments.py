"""The gate's experiments over a spec's cases: region transplants between classes and weight randomisation."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcam_audit.core.engine.explain import Explanation, explain
from gradcam_audit.core.engine.forward import forward_probabilities
from gradcam_audit.core.evaluate.case_evaluation import class_index
from gradcam_audit.core.evaluate.causal import (
    CASCADE_CASES,
    CascadeStage,
    GateEvidence,
    TransplantPair,
    cascade_counts,
    randomized_copy,
    spearman,
    transplant,
    transplant_pairs,
    weighted_layers,
)
from gradcam_audit.core.evaluate.regions import region_mask
from gradcam_audit.core.records.comparison import CompactHeatmap
from gradcam_audit.core.run.batch import model_channels
from gradcam_audit.core.run.failures import failure_message
from gradcam_audit.core.files.images import read_rgb
from gradcam_audit.core.run.models import ModelCache
from gradcam_audit.core.run.task_cases import case_task_target, task_head
from gradcam_audit.core.spec.model import Gate, Spec
from gradcam_audit.errors import GradcamAuditError


def gate_evidence(models: ModelCache, spec: Spec, gate: Gate, method: str, batch_size: int) -> GateEvidence:
    """The gate's causal numbers over the spec's valid cases: transplant flips and weight-randomisation similarity.

    Batched like the cases. Anything that cannot be computed makes the evidence an error (the gate is then an error,
    never a pass).
    """
    try:
        return _gate_evidence(models, spec, gate, method, batch_size)
    except Exception as error:  # noqa: BLE001 - each failure becomes the gate's readable error
        return GateEvidence(error=failure_message(error))


def _gate_evidence(models: ModelCache, spec: Spec, gate: Gate, method: str, batch_size: int) -> GateEvidence:
    model = models.get(spec.model)
    images = [read_rgb(case.image, model_channels(model)) for case in spec.cases]
    flip_rate: float | None = None
    pairs: tuple[TransplantPair, ...] = ()
    similarity: float | None = None
    per_case: dict[str, float] = {}
    cascade: tuple[CascadeStage, ...] = ()
    if gate.max_transplant_flip_rate is not None and gate.transplant is not None:
        flip_rate, pairs = _transplants(model, spec, gate, images, batch_size)
    if gate.max_randomization_similarity is not None:
        similarity, per_case, cascade = _randomization(model, spec, method, images, batch_size)
    return GateEvidence(flip_rate, pairs, similarity, per_case, cascade=cascade,
                        cascade_case=spec.cases[0].id if cascade else "")


def _transplants(model: Any, spec: Spec, gate: Gate, images: list[np.ndarray],
                 batch_size: int) -> tuple[float, tuple[TransplantPair, ...]]:
    cases = spec.cases
    region_name = gate.transplant
    classes = [class_index(case.expect_class if case.expect_class is not None else case.target, spec.labels)  # type: ignore[arg-type]
               for case in cases]
    masks = []
    for case, image in zip(cases, images):
        region = next(region for region in case.regions if region.name == region_name)
        masks.append(region_mask(region.shape, (image.shape[1], image.shape[0])))
    chosen = [(donor, recipient) for donor, recipient in transplant_pairs(classes, gate.transplant_pairs)
              if images[donor].shape == images[recipient].shape]
    if not chosen:
        raise GradcamAuditError(f"no transplant pair: the gate needs cases of at least two classes with images of the same size "
                                f"(region {region_name!r} is pasted at the same place)")
    options = spec.engine.forward_options()
    task = task_head(spec, model)  # segmentation / detection: each recipient keeps its own target
    targets = [case_task_target(case, (image.shape[1], image.shape[0]), spec) for case, image in zip(cases, images)]
    before = forward_probabilities(model, images, **options, batch_size=batch_size, task=task, task_targets=targets).argmax(axis=1)
    edited = [transplant(images[recipient], images[donor], masks[donor]) for donor, recipient in chosen]
    after = forward_probabilities(model, edited, **options, batch_size=batch_size, task=task,
                                  task_targets=[targets[recipient] for _, recipient in chosen])

    def name(index: int) -> str:
        return spec.label_of(index) or str(index)

    pairs = tuple(TransplantPair(cases[donor].id, cases[recipient].id, classes[donor], int(before[recipient]),
                                 int(np.argmax(after[position])), float(after[position][classes[donor]]),
                                 (name(classes[donor]), name(int(before[recipient])), name(int(np.argmax(after[position])))))
                  for position, (donor, recipient) in enumerate(chosen))
    return sum(pair.flipped for pair in pairs) / len(pairs), pairs


def _randomization(model: Any, spec: Spec, method: str, images: list[np.ndarray],
                   batch_size: int) -> tuple[float, dict[str, float], tuple[CascadeStage, ...]]:
    common: dict[str, Any] = {"method": method, "batch_size": batch_size, "labels": spec.labels, "task": task_head(spec, model)}
    targets = [case_task_target(case, (image.shape[1], image.shape[0]), spec) for case, image in zip(spec.cases, images)]
    originals = explain(model, images, targets=[case.target for case in spec.cases], **common, **spec.engine.explain_options(),
                        task_targets=targets)
    copy = randomized_copy(model)
    # The copy is explained at the layer the trained model's maps came from, each case at the target it matched.
    options = {**common, **spec.engine.explain_options(originals[0].layer),
               "task_targets": [original.task_target for original in originals]}
    randomized = explain(copy, images, targets=[original.target_index for original in originals], **options)
    per_case = {case.id: spearman(original.heatmap, other.heatmap)
                for case, original, other in zip(spec.cases, originals, randomized)}
    cascade = _cascade(model, copy, images[:CASCADE_CASES], originals[:CASCADE_CASES],
                       options | {"task_targets": options["task_targets"][:CASCADE_CASES]})
    return sum(per_case.values()) / len(per_case), per_case, cascade


def _cascade(model: Any, copy: Any, images: list[np.ndarray], originals: list[Explanation],
             options: dict[str, Any]) -> tuple[CascadeStage, ...]:
    """The cascading randomisation: the copy's fresh weights put back from the top layer down, one stage at a time,
    the trained weights kept below; each stage's maps compared with the trained model's. Informational (no check)."""
    trained_layers, fresh_layers = weighted_layers(model), weighted_layers(copy)
    if not fresh_layers or len(trained_layers) != len(fresh_layers):
        return ()  # a model Keras cloned into another layer structure: no stage can be matched
    trained = [layer.get_weights() for layer in trained_layers]
    fresh = [layer.get_weights() for layer in fresh_layers]
    total = len(fresh_layers)
    stages = []
    targets = [original.target_index for original in originals]
    try:
        for count in cascade_counts(total):
            for index, layer in enumerate(fresh_layers):
                layer.set_weights(fresh[index] if index >= total - count else trained[index])
            maps = explain(copy, images, targets=targets, **options)
            similarity = sum(spearman(original.heatmap, other.heatmap) for original, other in zip(originals, maps)) / len(maps)
            stages.append(CascadeStage(count, total, fresh_layers[total - count].name, similarity,
                                       CompactHeatmap.encode(maps[0].heatmap) if maps[0].degenerate is None else None))
    finally:  # the copy is shared (causal.randomized_copy): it must leave as fresh as it came
        for index, layer in enumerate(fresh_layers):
            layer.set_weights(fresh[index])
    return tuple(stages)
