"""Scoring a heatmap against a region: the basic numbers (mass, lift, area share) and every decided check."""

from __future__ import annotations


import numpy as np

from gradcam_audit.core.records.checks import Check, decide, failed
from gradcam_audit.core.records.regions import RegionEffect, RegionScore
from gradcam_audit.core.evaluate.metrics import REGION_METRICS, RegionContext
from gradcam_audit.core.spec.model import Region


def role_of(region: Region) -> str:
    if region.is_required:
        return "required"
    if region.is_forbidden:
        return "forbidden"
    return "check"


def score_region(
    heatmap: np.ndarray,
    mask: np.ndarray,
    region: Region,
    visible: np.ndarray | None = None,
    outline: tuple[tuple[float, float], ...] = (),
    causal: RegionEffect | None = None,
) -> RegionScore:
    """Score one region on an (H, W) non-negative heatmap whose total is > 0.

    mass = heatmap inside / heatmap total; area_share = region pixels / pixels the model saw (the whole image
    unless a centre crop hides part of it, where the heatmap is zero); lift = mass / area_share, so an evenly
    spread heatmap has lift 1.0 (chance) in every mode.
    """
    total = float(heatmap.sum())
    inside = float(heatmap[mask].sum())
    if visible is None:
        area_share = float(mask.mean())
        unseen_share = 0.0
    else:
        area_share = float((mask & visible).sum() / max(int(visible.sum()), 1))
        unseen_share = float((mask & ~visible).sum() / max(int(mask.sum()), 1))
    mass = inside / total if total > 0 else 0.0
    lift = mass / area_share if area_share > 0 else 0.0
    checks: list[Check] = []
    # Built-in conditions first: a region the model cannot see can meet no threshold honestly (a min_mass of 0
    # would otherwise pass on a region cropped away).
    if not mask.any():
        checks.append(failed(region.name, "covers_pixels", "the region covers no pixel of the image", value=False, limit=True))
    elif area_share == 0 and region.is_required:
        checks.append(failed(region.name, "visible", "the model never sees this region: the resize mode crops it away",
                             value=False, limit=True))
    context = RegionContext(heatmap=heatmap, mask=mask, mass=mass, lift=lift, area_share=area_share,
                            effect=causal.effect if causal is not None else None)
    if checks:
        # Nothing can be measured on a region the model never sees: each threshold is missed, never met by accident.
        unmeasurable = checks[0].reason
        checks.extend(decide(region.name, metric.metric, None, metric.comparison, metric.limit(region), threshold_key=metric.threshold_key,
                             reason=f"{metric.threshold_key} cannot be judged: {unmeasurable}")
                      for metric in REGION_METRICS if metric.applies(region))
    else:
        checks.extend(metric.check(region, context) for metric in REGION_METRICS if metric.applies(region))
    return RegionScore(
        name=region.name,
        role=role_of(region),
        mass=mass,
        lift=lift,
        area_share=area_share,
        unseen_share=unseen_share,
        checks=tuple(checks),
        iou_threshold=region.iou_threshold,
        outline=outline,
        causal=causal,
    )
