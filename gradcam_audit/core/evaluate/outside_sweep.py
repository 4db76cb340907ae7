"""Beyond the boxes: remove small cells of the image outside a case's required regions, one at a time, and measure how
much the explained class's probability drops (occlusion sensitivity, Zeiler & Fergus 2014, restricted to what no
region explains).

The grid is coarse-to-fine so a cue of about 1/8 of the image side is localised at ≤ 25 extra images per case:

* a coarse 4 × 4 grid (cells of 1/4 of each side): at most 16 images;
* the hottest coarse cell (when its drop is at least ``REFINE_MIN_EFFECT``) is searched again with 3 × 3 overlapping
  sub-cells of half its size (1/8 of each side) at a stride of a quarter of it: 9 images.

What it sees: a cue inside one coarse cell, or most of it there, whose removal alone lowers p; a cue of 1/8 side inside
the hottest cell is then boxed to within 1/32 of the side. What it cannot see: a cue inside a required region (never
removed), a cue the model reads redundantly in two places (removing one copy changes nothing), a cue much larger than a
coarse cell (each cell removes only a part of it), and drops caused by the removal itself pushing the picture out of
what the model knows (a grey patch can be a cue too: choose ``removal:`` accordingly). Every number here is a
measurement; the check is decided by ``outside_check`` with ``core/records/checks.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcam_audit.core.records.checks import Check, decide, limit_text
from gradcam_audit.core.records.evidence import Box, Hotspot, OutsideSweep
from gradcam_audit.core.evaluate.regions import region_mask
from gradcam_audit.core.evaluate.removal import INPAINT_RADIUS_PIXELS, remove_region
from gradcam_audit.core.spec.model import Case, Spec

COARSE_GRID = 4  # cells per side of the coarse grid
REFINE_STEPS = 3  # sub-cell positions per side inside the refined cell (half its size, stride a quarter of it)
REFINE_MIN_EFFECT = 0.02  # a coarse cell whose removal drops p by less is not worth refining
LOCALISED_SHARE = 0.5  # a sub-cell replaces its coarse cell as the hotspot when it carries at least this share of its drop
HOTSPOTS_KEPT = 3  # the strongest cells kept in the case's result
HOTSPOT_MIN_EFFECT = 0.01  # a smaller drop is noise, not a place the model relies on
# Inpainting reads only pixels near the hole, so a crop this much wider than the cell gives the same pixels (checked by
# a test) at a fraction of the cost on large images; the other operators depend on the whole image's size or seed.
INPAINT_CROP_MARGIN = 2 * INPAINT_RADIUS_PIXELS + 2
NOTHING_OUTSIDE = "nothing outside to test: the case's required regions cover the whole image"


@dataclass(frozen=True)
class OutsideOutcome:
    """One case's sweep, or why it could not be measured (``error``); both None when the case does not ask for it."""

    sweep: OutsideSweep | None = None
    error: str | None = None


def outside_mask(case: Case, size: tuple[int, int]) -> np.ndarray:
    """(H, W) booleans: the pixels no required region (``min_mass`` / ``min_lift``) covers."""
    width, height = size
    covered = np.zeros((height, width), dtype=bool)
    for region in case.regions:
        if region.is_required:
            covered |= region_mask(region.shape, size)
    return ~covered


def coarse_cells(size: tuple[int, int], grid: int = COARSE_GRID) -> list[Box]:
    """The grid's cells, row by row; edges rounded so the cells tile the image exactly."""
    width, height = size
    xs = [round(index * width / grid) for index in range(grid + 1)]
    ys = [round(index * height / grid) for index in range(grid + 1)]
    return [(xs[column], ys[row], xs[column + 1], ys[row + 1]) for row in range(grid) for column in range(grid)
            if xs[column + 1] > xs[column] and ys[row + 1] > ys[row]]


def refined_cells(cell: Box, steps: int = REFINE_STEPS) -> list[Box]:
    """Overlapping sub-cells of half ``cell``'s size at ``steps`` positions per side (stride a quarter of the cell)."""
    x0, y0, x1, y1 = cell
    width, height = x1 - x0, y1 - y0
    sub_width, sub_height = max(1, round(width / 2)), max(1, round(height / 2))
    lefts = sorted({x0 + round(step * (width - sub_width) / max(1, steps - 1)) for step in range(steps)})
    tops = sorted({y0 + round(step * (height - sub_height) / max(1, steps - 1)) for step in range(steps)})
    return [(left, top, left + sub_width, top + sub_height) for top in tops for left in lefts]


def _cell_mask(cell: Box, outside: np.ndarray) -> np.ndarray:
    mask = np.zeros_like(outside)
    x0, y0, x1, y1 = cell
    mask[y0:y1, x0:x1] = True
    inside: np.ndarray = mask & outside
    return inside


def _bounds(mask: np.ndarray) -> Box:
    rows, columns = np.nonzero(mask)
    return int(columns.min()), int(rows.min()), int(columns.max()) + 1, int(rows.max()) + 1


@dataclass
class _Pending:
    """One case's sweep while it is measured: the cells removed so far and their drops."""

    outside: np.ndarray
    removal: str
    coarse: list[tuple[Box, float]]
    refined: list[tuple[Box, float]]
    error: str | None = None


def remove_cell(image: np.ndarray, mask: np.ndarray, removal: str) -> np.ndarray:
    """``remove_region(image, mask, removal)``, inpainting only a crop around the mask (the same pixels, faster)."""
    if removal != "inpaint":
        return remove_region(image, mask, removal)
    x0, y0, x1, y1 = _bounds(mask)
    height, width = mask.shape
    top, bottom = max(0, y0 - INPAINT_CROP_MARGIN), min(height, y1 + INPAINT_CROP_MARGIN)
    left, right = max(0, x0 - INPAINT_CROP_MARGIN), min(width, x1 + INPAINT_CROP_MARGIN)
    if mask[top:bottom, left:right].all():  # nothing around the cell to fill it from in the crop: the whole image decides
        return remove_region(image, mask, removal)
    edited = np.array(image, dtype=np.uint8, copy=True)
    edited[top:bottom, left:right] = remove_region(edited[top:bottom, left:right], mask[top:bottom, left:right], removal)
    return edited


def _edited(image: np.ndarray, outside: np.ndarray, cells: Sequence[Box], removal: str) -> list[tuple[Box, np.ndarray]]:
    """Each cell's image without the cell's outside pixels (cells with none are left out), and the removed pixels' box."""
    pictures: list[tuple[Box, np.ndarray]] = []
    for cell in cells:
        mask = _cell_mask(cell, outside)
        if mask.any():
            pictures.append((_bounds(mask), remove_cell(image, mask, removal)))
    return pictures


def _drops(model: Any, spec: Spec, layer: str, batch_size: int, owners: list[tuple[int, Box]], pictures: list[np.ndarray],
           targets: Sequence[int], before: Sequence[float]) -> list[tuple[int, Box, float | None]]:
    """(case position, cell box, drop of p(target) or None when not finite), all pictures in one batched forward pass."""
    from gradcam_audit.core.engine.forward import forward_probabilities

    if not pictures:
        return []
    probabilities = forward_probabilities(model, pictures, **spec.engine.forward_options(layer), batch_size=batch_size)
    drops: list[tuple[int, Box, float | None]] = []
    for (position, box), row in zip(owners, probabilities):
        after = float(row[targets[position]])
        finite = bool(np.isfinite(after) and np.isfinite(before[position]))
        drops.append((position, box, float(before[position]) - after if finite else None))
    return drops


def measure_outside(model: Any, spec: Spec, cases: Sequence[Case], images: Sequence[np.ndarray], targets: Sequence[int],
                    before: Sequence[float], *, layer: str, batch_size: int = 32) -> list[OutsideOutcome]:
    """Each case's outside sweep (cases without ``max_outside_effect`` get an empty outcome).

    Two batched forward passes for the whole batch of cases: every case's coarse cells, then every case's refined cells.
    A removal or a probability that cannot be computed makes that case's outcome an error (never a pass).
    """
    outcomes = [OutsideOutcome() for _ in cases]
    pending: dict[int, _Pending] = {}
    owners: list[tuple[int, Box]] = []
    pictures: list[np.ndarray] = []
    for position, (case, image) in enumerate(zip(cases, images)):
        if case.max_outside_effect is None:
            continue
        size = (image.shape[1], image.shape[0])
        try:
            outside = outside_mask(case, size)
            if not outside.any():
                outcomes[position] = OutsideOutcome(OutsideSweep(None, 0, _cell_size(size, COARSE_GRID), case.removal,
                                                                 skipped=NOTHING_OUTSIDE))
                continue
            edited = _edited(image, outside, coarse_cells(size), case.removal)
        except Exception as error:  # noqa: BLE001 - a region or removal that cannot be computed is this case's error, named
            outcomes[position] = OutsideOutcome(error=f"the cells outside the required regions cannot be removed: {error}")
            continue
        pending[position] = _Pending(outside, case.removal, [], [])
        for box, picture in edited:
            owners.append((position, box))
            pictures.append(picture)
    _collect(pending, _drops(model, spec, layer, batch_size, owners, pictures, targets, before), coarse=True)
    owners, pictures = [], []
    for position, state in pending.items():
        if state.error is not None or not state.coarse:
            continue
        hottest_box, hottest_effect = max(state.coarse, key=lambda item: item[1])
        if hottest_effect < REFINE_MIN_EFFECT:
            continue
        try:
            edited = _edited(images[position], state.outside, refined_cells(_grid_cell_of(hottest_box, images[position])), state.removal)
        except Exception as error:  # noqa: BLE001 - as above
            state.error = f"the cells outside the required regions cannot be removed: {error}"
            continue
        for box, picture in edited:
            owners.append((position, box))
            pictures.append(picture)
    _collect(pending, _drops(model, spec, layer, batch_size, owners, pictures, targets, before), coarse=False)
    for position, state in pending.items():
        size = (images[position].shape[1], images[position].shape[0])
        outcomes[position] = OutsideOutcome(error=state.error) if state.error is not None else OutsideOutcome(_summary(state, size))
    return outcomes


def _collect(pending: dict[int, _Pending], drops: list[tuple[int, Box, float | None]], *, coarse: bool) -> None:
    for position, box, drop in drops:
        state = pending[position]
        if drop is None:
            state.error = "the model's probabilities on an image without a cell outside the required regions contain NaN or infinity"
        elif coarse:
            state.coarse.append((box, drop))
        else:
            state.refined.append((box, drop))


def _grid_cell_of(box: Box, image: np.ndarray) -> Box:
    """The full coarse grid cell a removed box lies in (a removed box may be smaller where a required region cuts it)."""
    size = (image.shape[1], image.shape[0])
    x0, y0, _x1, _y1 = box
    return next(cell for cell in coarse_cells(size) if cell[0] <= x0 < cell[2] and cell[1] <= y0 < cell[3])


def _cell_size(size: tuple[int, int], grid: int) -> tuple[int, int]:
    return (max(1, round(size[0] / grid)), max(1, round(size[1] / grid)))


def _summary(state: _Pending, size: tuple[int, int]) -> OutsideSweep:
    """The sweep's record: the largest drop, and the hotspots with a localised sub-cell in place of its coarse cell."""
    measured = state.coarse + state.refined
    cells = [*state.coarse]
    if state.refined:
        hottest = max(state.coarse, key=lambda item: item[1])
        best = max(state.refined, key=lambda item: item[1])
        if best[1] >= LOCALISED_SHARE * hottest[1]:
            cells = [item for item in cells if item is not hottest] + [best]
    ranked = sorted((item for item in cells if item[1] >= HOTSPOT_MIN_EFFECT), key=lambda item: (-item[1], item[0]))
    return OutsideSweep(max((effect for _box, effect in measured), default=None), len(measured), _cell_size(size, COARSE_GRID),
                        state.removal, tuple(Hotspot(box, effect) for box, effect in ranked[:HOTSPOTS_KEPT]),
                        _cell_size(size, 2 * COARSE_GRID) if state.refined else None)


def outside_check(case: Case, sweep: OutsideSweep | None) -> Check | None:
    """The case's ``max_outside_effect`` check, decided; None when the case does not set it or nothing was outside."""
    limit = case.max_outside_effect
    if limit is None or (sweep is not None and sweep.skipped):
        return None
    value = sweep.max_effect if sweep is not None else None
    reason = None
    if value is not None and sweep is not None:
        where = f" (strongest at {list(sweep.hotspots[0].box)})" if sweep.hotspots else ""
        reason = (f"outside_effect {value:.3f} > max_outside_effect {limit_text(limit)}: removing a cell that no required region "
                  f"covers lowers p(target) by {value:.3f}{where}")
    return decide("outside", "outside_effect", value, "<=", float(limit), threshold_key="max_outside_effect", reason=reason)


def sweep_batch(model: Any, spec: Spec, cases: Sequence[Case], images: Sequence[np.ndarray], explanations: Sequence[Any], *,
                batch_size: int, describe_error: Callable[[BaseException], str]) -> list[OutsideOutcome]:
    """The runner's hook: the sweeps of one batch of explained cases, or each asking case's error (``describe_error``
    turns an exception into the runner's one-line message)."""
    if not any(case.max_outside_effect is not None for case in cases):
        return [OutsideOutcome() for _ in cases]
    targets = [explanation.target_index for explanation in explanations]
    before = [float(explanation.probabilities[explanation.target_index]) for explanation in explanations]
    try:
        return measure_outside(model, spec, cases, images, targets, before, layer=spec.layer, batch_size=batch_size)
    except Exception as error:  # noqa: BLE001 - the forward pass on the edited images failed: each asking case says why
        message = f"the cells outside the required regions could not be measured: {describe_error(error)}"
        return [OutsideOutcome(error=message if case.max_outside_effect is not None else None) for case in cases]
