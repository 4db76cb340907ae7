"""`validate --deep`'s look at the model's predictions on a spec's cases: a hint, never a problem, when they look wrong
for the chosen `preprocess` (one class for every case, near-uniform guesses, or most `expect_class` missed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcam_audit.core.spec.model import ClassRef, Spec

# Fewer cases than this say too little about the model as a whole to hint at its preprocessing.
MIN_CASES = 3
# A top probability below this many times a uniform guess (1 / classes) is "near uniform".
NEAR_UNIFORM_FACTOR = 1.5
DOCS_PAGE = "docs/your-model.md (“preprocess: how 0–255 pixels become model input”)"


@dataclass(frozen=True)
class Hint:
    """Something that looks wrong but may be right (a warning line): it never changes validation's exit status."""

    file: str
    message: str

    def format(self) -> str:
        return f"{self.file}: warning: {self.message}"


def _class_name(index: int, labels: Sequence[str] | None) -> str:
    return labels[index] if labels is not None and 0 <= index < len(labels) else f"class {index}"


def class_index(value: ClassRef | None, labels: Sequence[str] | None) -> int | None:
    """The output index a case's `target` / `expect_class` names, or None (unset, or a name `labels` lacks)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and labels is not None and value in labels:
        return list(labels).index(value)
    return None


def prediction_symptom(probabilities: np.ndarray, case_ids: Sequence[str], named: Sequence[tuple[int, ...]],
                       expected: Sequence[int | None], labels: Sequence[str] | None) -> str | None:
    """What looks wrong in (N, classes) ``probabilities`` of N cases, in words, or None.

    ``named``: the classes each case's `expect_class` / `target` names; ``expected``: each case's `expect_class`.
    Checked in this order: every case (at least MIN_CASES) predicted as one class while the cases name two or more;
    the top probability below NEAR_UNIFORM_FACTOR / classes on most cases; most `expect_class` (at least MIN_CASES)
    missed.
    """
    count, num_classes = probabilities.shape
    if count < MIN_CASES or num_classes < 2:
        return None
    predicted = probabilities.argmax(axis=1)
    top = probabilities.max(axis=1)
    named_classes = {index for indices in named for index in indices}
    if len(set(predicted.tolist())) == 1 and len(named_classes) >= 2:
        return (f"all {count} cases predicted {_class_name(int(predicted[0]), labels)!r} with p≈{float(np.median(top)):.2f}, "
                f"while their expect_class / target name {len(named_classes)} classes")
    limit = NEAR_UNIFORM_FACTOR / num_classes
    unsure = int(np.sum(top < limit))
    if unsure * 2 > count:
        return (f"the model is unsure on {unsure} of {count} cases: the top probability is below {limit:.2f} "
                f"({NEAR_UNIFORM_FACTOR:g} ÷ {num_classes} classes), close to a uniform guess")
    checked = [(case_id, want, int(got), float(p)) for case_id, want, got, p in zip(case_ids, expected, predicted, top) if want is not None]
    missed = [item for item in checked if item[1] != item[2]]
    if len(checked) >= MIN_CASES and len(missed) * 2 > len(checked):
        case_id, want, got, p = missed[0]
        return (f"the prediction differs from expect_class on {len(missed)} of {len(checked)} cases (e.g. {case_id}: expected "
                f"{_class_name(want, labels)!r}, predicted {_class_name(got, labels)!r} with p={p:.2f})")
    return None


def _advice(spec: Spec, model: Any) -> str:
    """The spec's preprocessing, what `init --model` would choose for the model, and a double scaling said plainly."""
    from gradcam_audit.core.annotations.model_facts import find_preprocess

    chosen = spec.preprocess.describe()
    finding = find_preprocess(model)
    text = f"the images are fed with preprocess: {chosen} (resize_filter: {spec.engine.resize_filter})"
    if spec.preprocess.kind == "builtin" and chosen == "scale01" and finding.found and finding.value == "none":
        text += (f"; the model scales its input itself ({finding.reason}), so `preprocess: scale01` scales the pixels "
                 "twice: use `preprocess: none`")
    elif finding.value != chosen:
        text += (f"; `gradcam-audit init --model` would choose `preprocess: {finding.value}` "
                 f"({'found' if finding.found else 'a guess'}: {finding.reason}): try it")
    else:
        text += (f"; `gradcam-audit init --model` would choose the same ({finding.reason}): check the preprocessing and "
                 "resize filter the model was trained with, and that `labels` are in the model's output order")
    return f"{text}. See {DOCS_PAGE}"


def prediction_hints(spec: Spec, model: Any, *, batch_size: int = 32) -> list[Hint]:
    """Run the model on the spec's cases (as a run fits and preprocesses them) and hint when the predictions look wrong.

    Only classifiers: a segmenter's or detector's classes are per pixel or per box. An image that cannot be read
    is left out (the shallow check reports it).
    """
    from gradcam_audit.core.engine.forward import forward_probabilities
    from gradcam_audit.core.run.batch import model_channels
    from gradcam_audit.core.files.images import read_rgb
    from gradcam_audit.core.spec.load import display_path
    from gradcam_audit.errors import ImageError

    if spec.task != "classification" or len(spec.cases) < MIN_CASES:
        return []
    channels = model_channels(model)
    cases, images = [], []
    for case in spec.cases:
        try:
            images.append(read_rgb(case.image, channels))
        except ImageError:
            continue
        cases.append(case)
    if len(cases) < MIN_CASES:
        return []
    probabilities = forward_probabilities(model, images, batch_size=batch_size, **spec.engine.forward_options())
    named = [tuple(index for index in (class_index(case.expect_class, spec.labels), class_index(case.target, spec.labels))
                   if index is not None) for case in cases]
    symptom = prediction_symptom(np.asarray(probabilities, dtype=np.float64), [case.id for case in cases], named,
                                 [class_index(case.expect_class, spec.labels) for case in cases], spec.labels)
    if symptom is None:
        return []
    return [Hint(display_path(spec.path), f"{symptom}; {_advice(spec, model)}")]

