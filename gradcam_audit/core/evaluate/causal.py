"""Causal evidence: what happens to the model's output when a region is removed or transplanted, and whether the
explanation depends on the model's weights at all.

* region effects (``max_effect`` / ``min_effect``): one extra forward pass per checked region, no gradients;
* transplants (gate ``transplant`` / ``max_transplant_flip_rate``): a region's content pasted from cases of one
  class into cases of the others; a flip is a prediction that changes to the donor's class;
* weight randomisation (gate ``max_randomization_similarity``, Adebayo et al. 2018, "Sanity checks for saliency
  maps"): the mean Spearman rank correlation between each heatmap and the heatmap of the same architecture with
  every weight re-initialised from a fixed seed.

Every number here is a measurement; the checks that compare them with limits are made in ``core/evaluate/metrics.py`` and
``core/evaluate/gates.py``.
"""

from __future__ import annotations

import weakref
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from gradcam_audit.core.records.codec import JsonForm
from gradcam_audit.core.records.comparison import CompactHeatmap
from gradcam_audit.core.evaluate.regions import region_mask
from gradcam_audit.core.evaluate.removal import remove_region
from gradcam_audit.core.records.regions import RegionEffect
from gradcam_audit.core.engine.targets import TaskHead, TaskTarget
# The randomisation check's similarity is the package's one Spearman; named here too for core/run/runner.py.
from gradcam_audit.core.evaluate.similarity import spearman as spearman
from gradcam_audit.core.spec.model import Case, Spec

RANDOMIZATION_SEED = 1234


@dataclass(frozen=True)
class CaseEffects:
    """The measured effects of one case's checked regions (by region name), the edited images, or why not."""

    effects: dict[str, RegionEffect] = field(default_factory=dict)
    removed: dict[str, np.ndarray] = field(default_factory=dict)
    error: str | None = None


def measure_effects(
    model: Any,
    spec: Spec,
    cases: Sequence[Case],
    images: Sequence[np.ndarray],
    targets: Sequence[int],
    before: Sequence[float],
    *,
    layer: str,
    batch_size: int = 32,
    task: TaskHead | None = None,
    task_targets: Sequence[TaskTarget | None] | None = None,
) -> list[CaseEffects]:
    """Each case's region effects: every checked region removed from the original image, all edited images batched.

    ``targets`` / ``before``: per case, the explained class and its probability on the unedited image.
    A removal that cannot be computed makes that case's entry an error (never a pass); the others are computed.
    ``task`` / ``task_targets``: a segmentation or detection model's head and each case's target (the same pixels, the same
    candidate on every edited image).
    """
    from gradcam_audit.core.engine.forward import forward_probabilities

    outcomes: list[CaseEffects] = [CaseEffects() for _ in cases]
    edited: list[np.ndarray] = []
    owners: list[tuple[int, str, str]] = []  # (case position, region name, removal)
    for position, (case, image) in enumerate(zip(cases, images)):
        size = (image.shape[1], image.shape[0])
        pending: list[tuple[str, str, np.ndarray]] = []
        try:
            for region in case.regions:
                if region.has_effect_check:
                    pending.append((region.name, region.removal, remove_region(image, region_mask(region.shape, size), region.removal)))
        except Exception as error:  # noqa: BLE001 - a removal that cannot be computed is this case's error, named
            outcomes[position] = CaseEffects(error=f"the causal effect of region {getattr(region, 'name', '?')!r} cannot be measured: "
                                                   f"{error}")
            continue
        for name, removal, picture in pending:
            edited.append(picture)
            owners.append((position, name, removal))
    if not edited:
        return outcomes
    probabilities = forward_probabilities(model, edited, **spec.engine.forward_options(layer), batch_size=batch_size, task=task,
                                          task_targets=None if task_targets is None else [task_targets[position] for position, _, _ in owners])
    for (position, name, removal), picture, row in zip(owners, edited, probabilities):
        if outcomes[position].error is not None:
            continue
        after = float(row[targets[position]])
        if not np.isfinite(after):
            outcomes[position] = CaseEffects(error=f"the model's probabilities on the image without region {name!r} contain NaN or infinity")
            continue
        outcomes[position].effects[name] = RegionEffect(removal, float(before[position]), after)
        outcomes[position].removed[name] = picture
    return outcomes


# -- transplants ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransplantPair:
    """One transplant: ``donor``'s region pasted into ``recipient``; predictions before and after, by class index."""

    donor: str
    recipient: str
    donor_class: int
    predicted_before: int
    predicted_after: int
    donor_probability_after: float
    labels: tuple[str, str, str] = ("", "", "")  # names of donor_class, predicted_before, predicted_after

    @property
    def flipped(self) -> bool:
        return self.predicted_before != self.donor_class and self.predicted_after == self.donor_class

    # "flipped" is written for the reader of the file (the report counts flips); read back, it is recomputed.
    JSON_FORM: ClassVar[JsonForm] = JsonForm(
        keys=("donor", "recipient", "donor_class", "predicted_before", "predicted_after", "donor_probability_after", "flipped", "labels"),
        derived={"flipped": lambda pair: pair.flipped})


def transplant_pairs(classes: Sequence[int], limit: int) -> list[tuple[int, int]]:
    """Deterministic sample of at most ``limit`` ordered (donor, recipient) index pairs of different classes."""
    pairs = [(donor, recipient) for donor in range(len(classes)) for recipient in range(len(classes))
             if classes[donor] != classes[recipient]]
    if len(pairs) <= limit:
        return pairs
    chosen = np.random.default_rng(0).choice(len(pairs), size=limit, replace=False)
    return [pairs[index] for index in sorted(int(index) for index in chosen)]


def transplant(image: np.ndarray, donor: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` with ``donor``'s pixels inside ``mask`` pasted at the same place (both (H, W, C) uint8, same size)."""
    edited = image.copy()
    edited[mask] = donor[mask]
    return edited


# -- weight randomisation ----------------------------------------------------------------------------


def _seed_initializers(config: Any, seed: int) -> Any:
    """A layer config with every initializer's ``seed`` fixed, so re-initialisation is the same on every run."""
    if isinstance(config, dict):
        if "class_name" in config and isinstance(config.get("config"), dict) and "seed" in config["config"]:
            config = {**config, "config": {**config["config"], "seed": seed}}
        return {key: _seed_initializers(value, seed + index) for index, (key, value) in enumerate(config.items())}
    if isinstance(config, list):
        return [_seed_initializers(item, seed + index) for index, item in enumerate(config)]
    return config


# Each model's randomised copies, made once: cloning and tracing the copy costs more than explaining a few images
# with it, and several gates (specs) on one model, or audits run again in one process, ask for the same copy.
# Weak keys: a copy lives only as long as its model. Users of a copy leave its weights as they found them.
_COPIES: weakref.WeakKeyDictionary[Any, dict[int, Any]] = weakref.WeakKeyDictionary()


def randomized_copy(model: Any, seed: int = RANDOMIZATION_SEED) -> Any:
    """The same architecture with every weight re-initialised by its layer's own initializer, from a fixed seed.

    The copy is shared by every caller for the same model and seed: a caller that changes its weights must put
    them back (the runner's cascade does, in a ``finally``).

    Raises:
        GradcamAuditError: Keras cannot clone the model (a subclassed model without a config).
    """
    copies = _COPIES.setdefault(model, {})
    if seed not in copies:
        copies[seed] = _fresh_copy(model, seed)
    return copies[seed]


def _fresh_copy(model: Any, seed: int) -> Any:
    import keras

    from gradcam_audit.errors import ModelError

    def clone_layer(layer: Any) -> Any:
        layer_seed = seed + zlib.crc32(layer.name.encode()) % 100_000
        return layer.__class__.from_config(_seed_initializers(layer.get_config(), layer_seed))

    try:
        copy = keras.models.clone_model(model, clone_function=clone_layer, recursive=True)
    except Exception as error:  # noqa: BLE001 - Keras raises many types for models it cannot clone
        raise ModelError(f"the weight-randomisation check needs a copy of the model with fresh weights, and Keras cannot clone "
                         f"{getattr(model, 'name', 'it')!r} ({type(error).__name__}: {str(error)[:200]}); remove "
                         "max_randomization_similarity from the gate for this model") from None
    return copy


# The cascading view (Adebayo et al. 2018, Fig. 2): weights re-initialised from the top layer down, one stage at a time.
CASCADE_MOST_STAGES = 6  # deeper models are cut into this many cumulative stages
CASCADE_CASES = 4  # cases whose maps are compared at every stage (the first one's map is kept for the report)


@dataclass(frozen=True)
class CascadeStage:
    """One stage of the cascade: the top ``layers_randomized`` weighted layers re-initialised (down to ``deepest``)."""

    layers_randomized: int
    layers_total: int
    deepest: str
    similarity: float  # mean Spearman correlation with the trained model's maps over the compared cases
    heatmap: CompactHeatmap | None = None  # the first compared case's map at this stage


def weighted_layers(model: Any) -> list[Any]:
    """The layers that hold weights, input to output, looking inside nested models (a backbone used as a layer)."""
    found: list[Any] = []
    for layer in getattr(model, "layers", []):
        if getattr(layer, "layers", None):
            found.extend(weighted_layers(layer))
        elif layer.weights:
            found.append(layer)
    return found


def cascade_counts(total: int, most: int = CASCADE_MOST_STAGES) -> list[int]:
    """How many top layers are re-initialised at each stage: 1, 2, … for a shallow model, evenly cut for a deep one."""
    if total <= most:
        return list(range(1, total + 1))
    return sorted({max(1, round(total * stage / most)) for stage in range(1, most + 1)})


@dataclass(frozen=True)
class GateEvidence:
    """A gate's causal measurements over its spec's cases, or why they could not be made (``error``)."""

    transplant_flip_rate: float | None = None
    transplant: tuple[TransplantPair, ...] = ()
    randomization_similarity: float | None = None
    randomization_per_case: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    cascade: tuple[CascadeStage, ...] = ()
    cascade_case: str = ""  # the case whose maps the cascade's pictures show
