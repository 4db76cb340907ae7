"""Immutable objects a validated spec is made of; nothing here validates, the loader does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from gradcam_audit.core.engine.method_names import DEFAULT_RESIZE_FILTER
from gradcam_audit.core.spec.engine_settings import EngineSettings
from gradcam_audit.errors import Problem

ClassRef = str | int


@dataclass(frozen=True)
class ModelRef:
    """Where a model comes from and how to load it."""

    path: Path
    loader: str | None = None  # "package.module:function" taking the path, returning a keras.Model
    safe_mode: bool = True


@dataclass(frozen=True)
class Preprocess:
    """How 0–255 RGB pixels become the model's input.

    kind is "builtin" (name "scale01" or "none"), "family" (a keras.applications module name),
    "affine" ((x / scale - mean) / std) or "callable" (name "package.module:function").
    """

    kind: str
    name: str
    scale: float = 1.0
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def describe(self) -> str:
        if self.kind == "affine":
            return f"(x / {self.scale:g} - mean {list(self.mean)}) / std {list(self.std)}"
        return self.name


@dataclass(frozen=True)
class Shape:
    """A region's geometry. Boxes are stored as absolute or normalised xyxy (x_max/y_max exclusive)."""

    kind: str  # "box" | "polygon" | "mask"
    box: tuple[float, float, float, float] | None = None
    polygon: tuple[tuple[float, float], ...] = ()
    mask_path: Path | None = None
    normalized: bool = False


ThresholdValue = float | bool
DEFAULT_IOU_THRESHOLD = 0.5  # min_iou's `iou_threshold` when unset (declared with the metric, core/evaluate/metrics.py)


@dataclass(frozen=True, init=False)
class Region:
    """A named part of the image with the thresholds the heatmap must meet there.

    ``thresholds`` holds every region metric's key the region sets (limits and parameters such as iou_threshold),
    sorted by key; which keys exist is declared by the metrics (core/evaluate/metrics.py), so a new metric needs no field
    here. Keyword arguments name them too: ``Region("mug", shape, min_mass=0.5)``. None and False mean unset.
    """

    name: str
    shape: Shape
    thresholds: tuple[tuple[str, ThresholdValue], ...]
    removal: str  # how the region is removed for max_effect / min_effect (core/evaluate/removal.py)
    line: int | None
    # Regression rules against a baseline run set in the spec (`baseline:`), inherited from its case and `defaults:`.
    baseline: tuple[tuple[str, float | bool | None], ...]

    def __init__(
        self,
        name: str,
        shape: Shape,
        *,
        thresholds: Mapping[str, ThresholdValue | None] | Iterable[tuple[str, ThresholdValue | None]] = (),
        removal: str = "inpaint",
        line: int | None = None,
        baseline: tuple[tuple[str, float | bool | None], ...] = (),
        **threshold_values: ThresholdValue | None,
    ) -> None:
        merged = dict(thresholds)
        merged.update(threshold_values)  # dataclasses.replace(region, min_mass=0.3) lands here
        for key, value in merged.items():
            if value is not None and not isinstance(value, (bool, int, float)):
                raise TypeError(f"region {name!r}: threshold {key!r} must be a number or a boolean, got {value!r}")
        kept = tuple(sorted((key, value if isinstance(value, bool) else float(value))
                            for key, value in merged.items() if value is not None and value is not False))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "thresholds", kept)
        object.__setattr__(self, "removal", removal)
        object.__setattr__(self, "line", line)
        object.__setattr__(self, "baseline", baseline)

    def threshold(self, key: str) -> ThresholdValue | None:
        """The value the region sets for a metric's key, or None when unset."""
        return next((value for name, value in self.thresholds if name == key), None)

    def _number(self, key: str) -> float | None:
        value = self.threshold(key)
        return None if value is None or isinstance(value, bool) else value

    # Typed views of the built-in metrics' keys, for the code that reasons about regions' roles.
    @property
    def min_mass(self) -> float | None:
        return self._number("min_mass")

    @property
    def max_mass(self) -> float | None:
        return self._number("max_mass")

    @property
    def min_lift(self) -> float | None:
        return self._number("min_lift")

    @property
    def peak_inside(self) -> bool:
        return self.threshold("peak_inside") is True

    @property
    def iou_threshold(self) -> float:
        value = self._number("iou_threshold")
        return DEFAULT_IOU_THRESHOLD if value is None else value

    @property
    def max_effect(self) -> float | None:
        return self._number("max_effect")  # removing the region may lower p(target) by at most this

    @property
    def min_effect(self) -> float | None:
        return self._number("min_effect")  # removing the region must lower p(target) by at least this

    @property
    def has_effect_check(self) -> bool:
        """Whether the region's causal effect is measured (one extra forward pass on the image without it)."""
        return self.max_effect is not None or self.min_effect is not None

    @property
    def is_forbidden(self) -> bool:
        """A forbidden region only limits mass (or its causal effect) from above (a watermark, a ruler)."""
        return (self.max_mass is not None or self.max_effect is not None) and self.min_mass is None and self.min_lift is None

    @property
    def is_required(self) -> bool:
        return self.min_mass is not None or self.min_lift is not None


@dataclass(frozen=True)
class Case:
    """One image with its regions: one pytest test per method."""

    id: str
    image: Path
    regions: tuple[Region, ...]
    target: ClassRef | None = None
    expect_class: ClassRef | None = None
    tags: tuple[str, ...] = ()
    xfail: str | None = None
    line: int | None = None
    # Regression rules against a baseline run set in the spec (`baseline:`), inherited from `defaults:`.
    baseline: tuple[tuple[str, float | bool | None], ...] = ()
    # Faithfulness (core/evaluate/faithfulness.py): limits on the deletion / insertion curves' areas, K steps each.
    max_deletion_auc: float | None = None
    min_insertion_auc: float | None = None
    faithfulness_steps: int = 10
    # Beyond the boxes (core/evaluate/outside_sweep.py): cells outside the required regions removed one at a time with `removal`.
    max_outside_effect: float | None = None
    removal: str = "inpaint"
    # Segmentation / detection (`target: {class, region | box | polygon}`): the pixels or the box explained
    # (original-image pixels), and the least IoU a detection must reach to match the box.
    target_shape: Shape | None = None
    match_iou: float = 0.5

    @property
    def has_faithfulness_check(self) -> bool:
        """Whether the deletion and insertion curves are measured (2·K extra forward-pass images, no gradients)."""
        return self.max_deletion_auc is not None or self.min_insertion_auc is not None


@dataclass(frozen=True)
class InvalidCase:
    """A case that failed validation: it becomes a failing test that shows its problems.

    An invalid case is never an expected failure, even in a suite marked `xfail`: a broken spec must be fixed.
    """

    id: str
    index: int
    problems: tuple[Problem, ...]
    line: int | None = None


# The most (donor, recipient) pairs a transplant gate tries when the spec does not say (`transplant_pairs`).
DEFAULT_TRANSPLANT_PAIRS = 64


@dataclass(frozen=True)
class Gate:
    """Suite-level thresholds over the cases of one spec file."""

    min_pass_rate: float | None = None
    min_mean_mass: float | None = None
    min_mean_lift: float | None = None
    per_class: bool = False
    transplant: str | None = None  # region name whose content is pasted from cases of one class into the others
    max_transplant_flip_rate: float | None = None
    transplant_pairs: int = DEFAULT_TRANSPLANT_PAIRS
    max_randomization_similarity: float | None = None
    max_outside_dependence_rate: float | None = None  # share of measured cases failing max_outside_effect
    line: int | None = None

    @property
    def needs_evidence(self) -> bool:
        """Whether judging the gate needs images and the model (transplants, weight randomisation), not only results."""
        return self.max_transplant_flip_rate is not None or self.max_randomization_similarity is not None


@dataclass(frozen=True)
class Spec:
    """A validated spec file."""

    path: Path
    model: ModelRef
    preprocess: Preprocess = Preprocess("builtin", "none")
    resize: str = "stretch"
    resize_filter: str | None = None  # None: the run's default (--gradcam-resize-filter / ini), else bilinear
    labels: tuple[str, ...] | None = None
    layer: str = "auto"
    layer_grid: tuple[int, int] | None = None  # transformers: the patch grid of the token layer, when ambiguous
    prefix_tokens: int | None = None  # transformers: class/distillation/register tokens before the patches
    methods: tuple[str, ...] = ("gradcam",)
    output: str | int = 0
    score: str = "logit"
    cases: tuple[Case, ...] = ()
    gate: Gate | None = None
    invalid_cases: tuple[InvalidCase, ...] = field(default=())
    xfail: str | None = None  # the whole suite is expected to fail (cases and gate)
    task: str = "classification"  # or "segmentation" / "detection" (core/engine/targets.py)
    detections: str | None = None  # detection: "keras_hub" or "module:function", the decoder of the raw output

    @property
    def fitting_filter(self) -> str:
        """The resampling filter images are fitted with: the spec's own, else the default."""
        return self.resize_filter or DEFAULT_RESIZE_FILTER

    @cached_property
    def engine(self) -> EngineSettings:
        """The engine settings every case of this spec runs with, built once (a changed spec is a new object)."""
        return EngineSettings(layer=self.layer, output=self.output, score=self.score, preprocess=self.preprocess,
                              resize=self.resize, resize_filter=self.fitting_filter, layer_grid=self.layer_grid,
                              prefix_tokens=self.prefix_tokens)

    def label_of(self, index: int) -> str | None:
        if self.labels is not None and 0 <= index < len(self.labels):
            return self.labels[index]
        return None


@dataclass(frozen=True)
class ParsedSpec:
    """What the loader made of a file: the spec (if the file-level part is valid) and the file-level problems.

    Case-level problems live in ``spec.invalid_cases`` so one bad case never hides the others.
    """

    path: Path
    spec: Spec | None
    problems: tuple[Problem, ...]

    @property
    def all_problems(self) -> tuple[Problem, ...]:
        case_problems = tuple(p for case in (self.spec.invalid_cases if self.spec else ()) for p in case.problems)
        return self.problems + case_problems
