"""Synthetic results and pictures for report tests: fixed, deterministic, no model needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gradcam_audit.core.records.checks import decide
from gradcam_audit.core.evaluate.gates import GateResult
from gradcam_audit.core.ledger.entries import CaseEntry, GateEntry
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.records.results import CaseResult, ClassInfo
from gradcam_audit.core.records.regions import RegionScore

HOSTILE = '<script>alert(1)</script> | "quoted" \'single\' </textarea> {{ 7*7 }} {% raw %} & ünïcödé ✓ 猫'


def box(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def region(
    name: str,
    role: str,
    mass: float,
    area_share: float,
    *,
    min_mass: float | None = None,
    max_mass: float | None = None,
    min_lift: float | None = None,
    outline: tuple[tuple[float, float], ...] = (),
    peak_inside: bool | None = None,
    iou: float | None = None,
    min_iou: float | None = None,
    unseen_share: float = 0.0,
) -> RegionScore:
    """A RegionScore whose checks are decided by the core's `decide`, as the scorer would set them."""
    lift = mass / area_share if area_share else 0.0
    checks = []
    if min_mass is not None:
        checks.append(decide(name, "mass", mass, ">=", min_mass, threshold_key="min_mass"))
    if max_mass is not None:
        checks.append(decide(name, "mass", mass, "<=", max_mass, threshold_key="max_mass"))
    if min_lift is not None:
        checks.append(decide(name, "lift", lift, ">=", min_lift, threshold_key="min_lift"))
    if peak_inside is not None:
        checks.append(decide(name, "peak_inside", peak_inside, "==", True, threshold_key="peak_inside",
                             reason="heatmap peak is not inside"))
    if min_iou is not None:
        checks.append(decide(name, "iou", iou, ">=", min_iou, threshold_key="min_iou"))
    return RegionScore(name=name, role=role, mass=mass, lift=lift, area_share=area_share, unseen_share=unseen_share,
                       checks=tuple(checks), iou_threshold=0.5, outline=outline)


def case(
    case_id: str,
    status: str,
    regions: tuple[RegionScore, ...] = (),
    *,
    spec: str = "specs/pets.yaml",
    target: str = "cat",
    predicted: str | None = None,
    reason: str = "",
    tags: tuple[str, ...] = (),
    degenerate: str | None = None,
    xfail: str | None = None,
    images: dict[str, str] | None = None,
) -> CaseEntry:
    labels = ["cat", "dog", "fox"]
    predicted = predicted or target
    if not reason and regions:
        reason = "; ".join(f"{score.name}: {'; '.join(score.failures)}" for score in regions if not score.passed)
    checks = (decide("prediction", "predicted_class", predicted, "==", target,
                     reason=f"predicted {predicted!r} (p=0.91), expected {target!r}"),) if predicted != target else ()
    verdict = {"xfailed": "failed", "xpassed": "passed", "skipped": "passed", "not_run": "passed"}.get(status, status)
    result = CaseResult(
        spec=spec, id=case_id, method="gradcam", verdict=verdict, reason=reason,
        layer="block5_conv3", layer_reason="last convolutional layer (chosen automatically)", score_kind="logit",
        predicted=ClassInfo(labels.index(predicted) if predicted in labels else 0, predicted, 0.91, 7.25),
        target=ClassInfo(labels.index(target) if target in labels else 0, target, 0.91 if predicted == target else 0.05, 7.25),
        expect_class=ClassInfo(labels.index(target) if target in labels else 0, target),
        regions=regions, checks=checks, degenerate=degenerate, image=f"images/{case_id}.jpg", image_size=(224, 224),
        model="models/pets.keras", model_sha256="ab" * 32, preprocess="imagenet (caffe)", resize="224x224 (stretch)",
    )
    computed = status not in ("error", "skipped", "not_run")
    return CaseEntry(spec=spec, id=case_id, method="gradcam", status=status, reason=reason,
                     cause="interrupted" if status == "not_run" else "", tags=tags, xfail=xfail,
                     result=result if computed else None, images=images or {}, nodeid=f"{spec}::{case_id}", duration_s=0.05)


def gate(spec: str, status: str, reason: str, numbers: dict[str, float | None], limits: dict[str, float], *,
         per_class: dict[str, dict[str, float | None]] | None = None, cases_counted: int = 0, xfail: str | None = None) -> GateEntry:
    """A gate entry whose checks are decided by the core's `decide`."""
    checks = [decide("gate", metric, numbers.get(metric), ">=", limit, threshold_key=f"min_{metric}")
              for metric, limit in limits.items()]
    for label, class_numbers in (per_class or {}).items():
        checks.extend(decide(f"class {label!r}", metric, class_numbers.get(metric), ">=", limit, threshold_key=f"min_{metric}")
                      for metric, limit in limits.items())
    verdict = "failed" if status in ("failed", "xfailed") else "passed"
    result = GateResult(spec=spec, status=verdict, reason=reason, measurements=numbers, checks=tuple(checks),
                        per_class=per_class or {}, cases_counted=cases_counted)
    return GateEntry(spec=spec, status=status, reason=reason, xfail=xfail, result=result,
                     thresholds={f"min_{metric}": limit for metric, limit in limits.items()})


def fixed_results() -> RunResults:
    """A small run with every status, a degenerate map, a wrong prediction, a failed and an expected-failure gate."""
    subject = box(60, 60, 160, 160)
    watermark = box(180, 190, 220, 220)
    cases = (
        case("cat-001", "passed", (region("cat", "required", 0.62, 0.2, min_mass=0.3, min_lift=2.0, outline=subject),
                                   region("watermark", "forbidden", 0.01, 0.025, max_mass=0.05, outline=watermark)), tags=("indoor",)),
        case("cat-002", "failed", (region("cat", "required", 0.12, 0.2, min_mass=0.3, min_lift=2.0, outline=subject),
                                   region("watermark", "forbidden", 0.41, 0.025, max_mass=0.05, outline=watermark)),
             tags=("outdoor", "night")),
        case("dog-001", "failed", (region("dog", "required", 0.35, 0.2, min_mass=0.3, outline=subject, peak_inside=False),),
             target="dog", predicted="fox", tags=("outdoor",),
             reason="predicted 'fox' (p=0.91), expected 'dog'; dog: heatmap peak is not inside"),
        case("dog-002", "failed", (), target="dog", degenerate="all-zero heatmap: the target's gradient at this layer is zero everywhere",
             reason="all-zero heatmap: the target's gradient at this layer is zero everywhere"),
        case("dog-003", "error", (), target="dog", reason="image not found: images/dog-003.jpg"),
        case("fox-001", "xfailed", (region("fox", "required", 0.2, 0.2, min_lift=1.5, outline=subject, iou=0.1, min_iou=0.3),),
             spec="specs/wild.yaml", target="fox", xfail="known: snow background", tags=("outdoor",)),
        case("fox-002", "xpassed", (region("fox", "required", 0.7, 0.2, min_lift=1.5, outline=subject, unseen_share=0.25),),
             spec="specs/wild.yaml", target="fox", xfail="known: snow background",
             reason="expected to fail (known: snow background) but passed"),
        case("fox-003", "skipped", (), spec="specs/wild.yaml", target="fox", reason="needs a GPU"),
    )
    gates = (
        gate("specs/pets.yaml", "failed", "pass_rate 0.250 < min_pass_rate 0.9", {"pass_rate": 0.25, "mean_mass": 0.363, "mean_lift": 1.81},
             {"pass_rate": 0.9, "mean_lift": 2.0},
             per_class={"cat": {"pass_rate": 0.5, "mean_mass": 0.37, "mean_lift": 1.85},
                        "dog": {"pass_rate": 0.0, "mean_mass": 0.35, "mean_lift": 1.75}}, cases_counted=4),
        gate("specs/wild.yaml", "xfailed", "pass_rate 0.500 < min_pass_rate 0.9", {"pass_rate": 0.5, "mean_mass": 0.45, "mean_lift": 2.25},
             {"pass_rate": 0.9}, cases_counted=2, xfail="known: snow background"),
    )
    return RunResults(cases=cases, gates=gates, started="2025-03-04T05:06:07+00:00", duration_s=83.4,
                      command="pytest --gradcam-specs specs/", versions={"gradcam_audit": "0.1.0", "python": "3.11.9"})


def hostile_results() -> RunResults:
    """Every free-text field a spec author or a model controls, set to markup, template syntax and unicode."""
    regions = (region(HOSTILE, "required", 0.1, 0.2, min_mass=0.3, outline=box(10, 10, 100, 100)),
               region("x\" onmouseover=\"alert(2)", "forbidden", 0.3, 0.1, max_mass=0.05, outline=box(120, 120, 200, 200)))
    cases = (
        case(HOSTILE, "failed", regions, spec=f"specs/{HOSTILE}.yaml", target=HOSTILE, predicted="dog", reason=HOSTILE,
             tags=(HOSTILE, "a b", "</textarea>"), degenerate=None),
        case("degenerate " + HOSTILE, "failed", (), spec=f"specs/{HOSTILE}.yaml", degenerate=HOSTILE, reason=HOSTILE, xfail=None),
        case("ok-1", "xfailed", regions, spec="specs/plain.yaml", xfail=HOSTILE),
    )
    gates = (gate(f"specs/{HOSTILE}.yaml", "failed", HOSTILE, {"pass_rate": 0.0, "mean_mass": 0.1, "mean_lift": 0.5}, {"pass_rate": 0.9},
                  per_class={HOSTILE: {"pass_rate": 0.0}}),)
    return RunResults(cases=cases, gates=gates, started="2025-03-04T05:06:07+00:00", duration_s=1.0,
                      command=f"pytest --gradcam-specs '{HOSTILE}'", versions={HOSTILE: HOSTILE}, notes=(HOSTILE,))


def photo_like(seed: int, size: int = 224) -> np.ndarray:
    """(size, size, 3) uint8 with what makes photos hard to compress: smooth shading, edges, fine texture, sensor noise."""
    rng = np.random.default_rng(seed)
    from PIL import Image

    coarse = rng.uniform(0, 255, (6, 6, 3)).astype(np.uint8)
    picture = np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)
    rows, columns = np.mgrid[0:size, 0:size]
    for _ in range(6):
        centre_row, centre_column, radius = rng.uniform(0, size, 2).tolist() + [rng.uniform(size / 12, size / 4)]
        inside = (rows - centre_row) ** 2 + (columns - centre_column) ** 2 < radius**2
        picture[inside] = picture[inside] * 0.4 + rng.uniform(0, 255, 3) * 0.6
    texture = np.sin(columns / rng.uniform(2, 5)) * np.cos(rows / rng.uniform(2, 5)) * 18.0
    picture += texture[:, :, None] + rng.normal(0, 6, picture.shape)
    return np.clip(picture, 0, 255).astype(np.uint8)


def heatmap_like(seed: int, size: int = 224) -> np.ndarray:
    """(size, size) non-negative float map: a few Gaussian blobs, as Grad-CAM maps upsampled from 7×7 look."""
    rng = np.random.default_rng(seed + 1000)
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32)
    heatmap = np.zeros((size, size), dtype=np.float32)
    for _ in range(3):
        centre = rng.uniform(0, size, 2)
        width = rng.uniform(size / 10, size / 4)
        heatmap += rng.uniform(0.3, 1.0) * np.exp(-((rows - centre[0]) ** 2 + (columns - centre[1]) ** 2) / (2 * width**2))
    return heatmap


def write_case_pictures(results: RunResults, directory: Path, size: int = 224) -> RunResults:
    """Render each case's pictures through render_case_images, as the runner would: none for cases that did not run,
    no heatmap for a degenerate one. Image paths become relative to ``directory``."""
    from dataclasses import replace

    from gradcam_audit.rendering.pictures.overlay import render_case_images

    cases = []
    for index, entry in enumerate(results.cases):
        if entry.result is None:
            cases.append(entry)
            continue
        heatmap = None if entry.result.degenerate else heatmap_like(index, size)
        written = render_case_images(entry.result, photo_like(index, size), heatmap, directory / "cases")
        cases.append(replace(entry, images={kind: path.relative_to(directory).as_posix() for kind, path in written.items()}))
    return replace(results, cases=tuple(cases))
