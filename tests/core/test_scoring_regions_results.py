"""Scoring and result-reading details: chance level under a centre crop, polygons vs boxes, forward-compatible JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gradcam_audit.core.engine.mapping import plan_geometry, upsample_heatmap
from gradcam_audit.core.evaluate.regions import region_mask
from gradcam_audit.core.ledger.entries import CaseEntry
from gradcam_audit.core.ledger.run_results import RunResults, results_from_data
from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.core.run.runner import AuditRunner
from gradcam_audit.core.jobs import CaseJob
from gradcam_audit.core.evaluate.scoring import score_region
from gradcam_audit.core.spec.model import Case, ModelRef, Region, Shape, Spec
from gradcam_audit.errors import ResultsError
from gradcam_audit.core.records.codec import to_data


def test_uniform_map_has_lift_one_under_a_centre_crop() -> None:
    geometry = plan_geometry((200, 100), (100, 100), "center_crop")
    heatmap = upsample_heatmap(np.ones((7, 7)), geometry)
    visible = geometry.visible_mask()
    region = Region("middle", Shape("box", box=(80, 20, 120, 80)), min_lift=1.5)
    score = score_region(heatmap, region_mask(region.shape, (200, 100)), region, visible)
    assert score.lift == pytest.approx(1.0, abs=1e-9)
    assert not score.passed


def test_required_region_the_model_never_sees_fails() -> None:
    geometry = plan_geometry((200, 100), (100, 100), "center_crop")
    heatmap = upsample_heatmap(np.ones((7, 7)), geometry)
    region = Region("left edge", Shape("box", box=(0, 0, 20, 100)), min_mass=0.0)
    score = score_region(heatmap, region_mask(region.shape, (200, 100)), region, geometry.visible_mask())
    assert score.unseen_share == 1.0
    assert "never sees this region" in " ".join(score.failures)


def test_polygon_and_box_cover_the_same_pixels() -> None:
    box = region_mask(Shape("box", box=(10, 10, 20, 20)), (40, 30))
    polygon = region_mask(Shape("polygon", polygon=((10, 10), (20, 10), (20, 20), (10, 20))), (40, 30))
    assert box.sum() == 100 and np.array_equal(box, polygon)


def test_results_reader_ignores_keys_added_by_later_versions() -> None:
    result = CaseResult(spec="s.yaml", id="c", method="gradcam", verdict="passed")
    data = to_data(CaseEntry(spec="s.yaml", id="c", method="gradcam", status="passed", result=result))
    data["added_later"] = 1
    data["result"]["added_later"] = {"anything": [1, 2]}
    document = to_data(RunResults(cases=()))
    document["cases"] = [data]
    document["gates"] = [{"spec": "s.yaml", "status": "passed", "reason": "", "thresholds": {"min_pass_rate": 0.9}, "new_key": True}]
    parsed = results_from_data(document)
    assert parsed.cases[0].id == "c" and parsed.cases[0].result == result
    assert parsed.gates[0].status == "passed"


def test_results_reader_rejects_an_unknown_status() -> None:
    document = to_data(RunResults(cases=(CaseEntry(spec="s.yaml", id="c", method="gradcam", status="passed"),)))
    document["cases"][0]["status"] = "fail"
    with pytest.raises(ResultsError, match=r'cases\[0\]\.status: expected one of passed, .*, got "fail"'):
        results_from_data(document)


def _jobs(count: int) -> list[CaseJob]:
    spec = Spec(path=Path("s.yaml"), model=ModelRef(Path("m.keras")))
    region = Region("r", Shape("box", box=(0, 0, 1, 1)), min_mass=0.1)
    return [CaseJob(spec, Case(id=f"c{index}", image=Path(f"{index}.png"), regions=(region,)), "gradcam") for index in range(count)]


def test_runner_batches_within_a_group_and_never_recomputes_a_done_job() -> None:
    runner = AuditRunner(batch_size=8)
    jobs = _jobs(6)
    runner.plan(jobs, groups=["a", "a", "a", "b", "b", "a"])
    assert [job.case.id for job in runner._batch_starting_at(jobs[0])] == ["c0", "c1", "c2", "c5"]
    runner._done.add(jobs[1].key)
    assert [job.case.id for job in runner._batch_starting_at(jobs[0])] == ["c0", "c2", "c5"]
