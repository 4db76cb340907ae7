"""The engine settings a spec gives its cases: one object, built once, that decides which jobs share a batch."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest

from gradcam_audit.core.jobs import CaseJob
from gradcam_audit.core.spec.engine_settings import EngineSettings
from gradcam_audit.core.spec.model import Case, ModelRef, Preprocess, Spec

SPEC = Spec(path=Path("s.yaml"), model=ModelRef(Path("m.keras")))
CASE = Case(id="c0", image=Path("0.png"), regions=())
# A value differing from the default of each spec field that becomes an engine setting.
CHANGED: dict[str, Any] = {"layer": "conv", "output": 1, "score": "probability", "preprocess": Preprocess("builtin", "scale01"),
                           "resize": "letterbox", "resize_filter": "nearest", "layer_grid": (7, 7), "prefix_tokens": 1}


def test_engine_settings_are_built_once_per_spec() -> None:
    assert SPEC.engine is SPEC.engine
    assert replace(SPEC, layer="conv").engine.layer == "conv"  # a changed spec is a new object with its own settings


def test_every_engine_setting_comes_from_the_spec() -> None:
    assert {field.name for field in fields(EngineSettings)} == set(CHANGED)
    assert SPEC.engine.resize_filter == SPEC.fitting_filter  # resolved, never None


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_jobs_differing_in_any_engine_setting_are_never_batched_together(name: str) -> None:
    other = replace(SPEC, **{name: CHANGED[name]})
    assert getattr(other.engine, name) == CHANGED[name]
    assert CaseJob(other, CASE, "gradcam").batch_key != CaseJob(SPEC, CASE, "gradcam").batch_key
    assert CaseJob(replace(SPEC, path=Path("t.yaml")), CASE, "gradcam").batch_key == CaseJob(SPEC, CASE, "gradcam").batch_key


def test_forward_options_take_the_resolved_layer() -> None:
    assert SPEC.engine.forward_options()["layer"] == "auto"
    assert SPEC.engine.forward_options("conv")["layer"] == "conv"
    assert SPEC.engine.explain_options("conv") == {**SPEC.engine.forward_options("conv"), "layer_grid": None, "prefix_tokens": None}
