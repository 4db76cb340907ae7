"""A case's computed verdict (core/evaluate/case_evaluation.py) from a hand-built Explanation: never NaN, never a silent pass."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gradcam_audit.core.engine.explain import Explanation
from gradcam_audit.core.engine.mapping import plan_geometry
from gradcam_audit.core.evaluate.case_evaluation import evaluate_case, faithfulness_checks
from gradcam_audit.core.records.evidence import FaithfulnessCurves
from gradcam_audit.core.records.regions import RegionEffect
from gradcam_audit.core.spec.model import Case, ModelRef, Region, Shape, Spec

SPEC = Spec(path=Path("pets.yaml"), model=ModelRef(Path("model.keras")), labels=("cat", "dog"))
# A 4×4 image whose heatmap holds 3 of its 4 units in the top-left quarter (2×2 pixels).
HEATMAP = np.zeros((4, 4))
HEATMAP[0, 0] = 3.0
HEATMAP[3, 3] = 1.0
QUARTER = Shape("box", box=(0, 0, 2, 2))


def _explanation(heatmap: np.ndarray = HEATMAP, scores: tuple[float, ...] = (2.0, 1.0), degenerate: str | None = None) -> Explanation:
    logits = np.asarray(scores, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # inf − inf: a model with an infinite logit has NaN probabilities
        probabilities = np.exp(logits) / np.exp(logits).sum()
    return Explanation(heatmap=heatmap, heatmap_full=heatmap, scores=logits, probabilities=probabilities,
                       predicted_index=int(np.argmax(logits)), target_index=0, layer="conv", layer_reason="", method="gradcam",
                       score_kind="logit", degenerate=degenerate, geometry=plan_geometry((4, 4), (4, 4), "stretch"))


def _case(*regions: Region, **fields: object) -> Case:
    return Case(id="c", image=Path("c.png"), regions=regions, **fields)  # type: ignore[arg-type]


def test_regions_are_scored_on_the_full_heatmap_and_all_must_pass() -> None:
    verdict = evaluate_case(SPEC, _case(Region("cat", QUARTER, min_mass=0.75, min_lift=3.0)), _explanation())
    (score,) = verdict.regions
    assert score.mass == pytest.approx(0.75) and score.lift == pytest.approx(3.0) and score.area_share == pytest.approx(0.25)
    assert verdict.status == "passed" and verdict.reason == ""
    missed = evaluate_case(SPEC, _case(Region("cat", QUARTER, min_mass=0.8), Region("rest", Shape("box", box=(2, 2, 4, 4)), max_mass=0.3)),
                           _explanation())
    assert missed.status == "failed"
    assert missed.reason.startswith("cat: ") and "rest" not in missed.reason  # only the region that missed is named


def test_the_expected_class_is_checked_by_index_and_reported_by_name() -> None:
    verdict = evaluate_case(SPEC, _case(Region("cat", QUARTER, min_mass=0.1), expect_class="dog"), _explanation(scores=(2.0, 1.0)))
    assert verdict.status == "failed"
    (check,) = verdict.checks
    assert (check.metric, check.value, check.limit, check.passed) == ("predicted_class", "cat", "dog", False)
    assert check.reason == "predicted 'cat' (p=0.73), expected 'dog'"
    assert evaluate_case(SPEC, _case(expect_class=1), _explanation(scores=(1.0, 2.0))).status == "passed"


@pytest.mark.parametrize("scores", [(np.nan, 1.0), (np.inf, 1.0)])
def test_non_finite_model_output_is_an_error_not_a_verdict(scores: tuple[float, ...]) -> None:
    verdict = evaluate_case(SPEC, _case(Region("cat", QUARTER, min_mass=0.0)), _explanation(scores=scores))
    assert verdict.status == "error" and "NaN or infinity" in verdict.reason and verdict.regions == ()


def test_a_non_finite_heatmap_is_an_error() -> None:
    heatmap = HEATMAP.copy()
    heatmap[1, 1] = np.nan
    verdict = evaluate_case(SPEC, _case(Region("cat", QUARTER, min_mass=0.0)), _explanation(heatmap=heatmap))
    assert verdict.status == "error" and "heatmap contains NaN" in verdict.reason


def test_labels_that_do_not_match_the_output_are_an_error_naming_the_file() -> None:
    spec = replace(SPEC, labels=("cat", "dog", "fox"))
    verdict = evaluate_case(spec, _case(Region("cat", QUARTER, min_mass=0.0)), _explanation())
    assert verdict.status == "error" and "names 3 labels" in verdict.reason and "pets.yaml" in verdict.reason


def test_a_degenerate_or_all_zero_map_fails_with_its_reason_even_when_thresholds_are_zero() -> None:
    lenient = _case(Region("cat", QUARTER, min_mass=0.0))
    degenerate = evaluate_case(SPEC, lenient, _explanation(degenerate="the heatmap is all-negative"))
    assert degenerate.status == "failed" and degenerate.reason == "the heatmap is all-negative"
    zero = evaluate_case(SPEC, lenient, _explanation(heatmap=np.zeros((4, 4))))
    assert zero.status == "failed" and "zero everywhere" in zero.reason


def test_a_causal_region_without_its_measured_effect_is_an_error_and_with_it_is_checked() -> None:
    case = _case(Region("logo", QUARTER, max_effect=0.1))
    missing = evaluate_case(SPEC, case, _explanation())
    assert missing.status == "error" and "'logo'" in missing.reason
    measured = evaluate_case(SPEC, case, _explanation(), effects={"logo": RegionEffect("blur", 0.9, 0.5)})
    assert measured.status == "failed" and measured.regions[0].effect == pytest.approx(0.4)
    assert evaluate_case(SPEC, case, _explanation(), effects={"logo": RegionEffect("blur", 0.9, 0.85)}).status == "passed"


def test_faithfulness_checks_compare_each_area_in_its_own_direction_and_need_the_curves() -> None:
    case = _case(max_deletion_auc=0.3, min_insertion_auc=0.6)
    curves = FaithfulnessCurves(2, deletion=(0.9, 0.3, 0.1), insertion=(0.1, 0.6, 0.9))  # areas 0.4 and 0.55
    deletion, insertion = faithfulness_checks(case, curves)
    assert (deletion.metric, deletion.comparison, deletion.passed) == ("deletion_auc", "<=", False)
    assert deletion.reason.startswith("deletion AUC 0.400 > max_deletion_auc 0.3")
    assert (insertion.metric, insertion.comparison, insertion.passed) == ("insertion_auc", ">=", False)
    assert all(not check.passed for check in faithfulness_checks(case, None))
    lenient = _case(max_deletion_auc=0.4, min_insertion_auc=0.55)
    assert all(check.passed for check in faithfulness_checks(lenient, curves))
    assert faithfulness_checks(_case(), curves) == []
    verdict = evaluate_case(SPEC, _case(Region("cat", QUARTER, min_mass=0.1), max_deletion_auc=0.3), _explanation(), faithfulness=curves)
    assert verdict.status == "failed" and verdict.reason.startswith("deletion AUC")
