"""The sweep beyond the boxes under the Ray executor: the same outside records as a local run."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ray.data", reason="the Ray executor tests need the [ray] extra")

from gradcam_audit.core.run.runner import AuditRunner  # noqa: E402
from gradcam_audit.core.jobs import CaseJob  # noqa: E402
from gradcam_audit.core.spec.load import parse_spec  # noqa: E402
from tests.outside.stripes import blind_spec  # noqa: E402


@pytest.mark.slow
def test_a_ray_run_gives_the_outside_records_of_a_local_run(tmp_path: Path) -> None:
    parsed = parse_spec(blind_spec(tmp_path, "shortcut", cases=("stripes-0001", "stripes-0003")))
    assert parsed.spec is not None
    jobs = [CaseJob(parsed.spec, case, "gradcam") for case in parsed.spec.cases]
    records = {}
    for executor in ("serial", "ray"):
        runner = AuditRunner(8, executor=executor)
        runner.plan(jobs)
        records[executor] = [runner.run(job).result.outside for job in jobs]
    assert all(record is not None for record in records["ray"])
    assert records["ray"][0] is not None and records["ray"][0].hotspots  # stripes-0001 depends on the tag
    for local, distributed in zip(records["serial"], records["ray"]):
        assert local is not None and distributed is not None
        assert distributed.cells == local.cells
        assert [spot.box for spot in distributed.hotspots] == [spot.box for spot in local.hotspots]
        assert distributed.max_effect == pytest.approx(local.max_effect, abs=1e-4)
