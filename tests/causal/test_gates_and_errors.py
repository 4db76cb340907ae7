"""Causal gates decided in the core: evidence missing or failed is an error; a weight-independent map fails the sanity gate."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradcam_audit.core.audit import run_audit
from gradcam_audit.core.evaluate.causal import GateEvidence, TransplantPair, transplant_pairs
from gradcam_audit.core.evaluate.similarity import average_ranks, spearman
from gradcam_audit.core.engine import methods
from gradcam_audit.core.engine.methods import CamBatch, CamMethod
from gradcam_audit.core.evaluate.gates import GateCase, GateResult, evaluate_gate
from gradcam_audit.core.ledger.entries import GateEntry
from gradcam_audit.core.ledger.judging import judge_gate
from gradcam_audit.core.ledger.merge import merge_results
from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.run.runner import AuditRunner
from gradcam_audit.core.spec.load import parse_spec
from gradcam_audit.core.spec.model import Gate
from tests.causal.conftest import SIDE, save_png, square_image
from gradcam_audit.core.records.codec import from_data, to_data

REPOSITORY = Path(__file__).resolve().parents[2]


class InputIntensity(CamMethod):
    """A 'heatmap' that is the input's brightness: it never looks at the weights (an edge detector would do the same)."""

    name = "input_intensity"
    uses_gradients = False
    class_specific = False

    def raw_maps(self, batch: CamBatch) -> np.ndarray:
        _, height, width, _ = batch.activations.shape
        brightness = batch.inputs.mean(axis=3)
        rows = (np.arange(height) * brightness.shape[1]) // height
        columns = (np.arange(width) * brightness.shape[2]) // width
        return np.asarray(brightness[:, rows][:, :, columns], dtype=np.float64)


def test_a_weight_independent_explanation_fails_the_randomisation_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(methods.METHODS, InputIntensity.name, InputIntensity)
    spec = parse_spec(REPOSITORY / "specs" / "stripes_honest.yaml").spec
    assert spec is not None
    gate = Gate(max_randomization_similarity=0.5)
    evidence = AuditRunner().gate_evidence(spec, gate, InputIntensity.name)
    assert evidence.error is None
    assert evidence.randomization_similarity is not None and evidence.randomization_similarity > 0.99  # the same map, weights or not
    result = evaluate_gate("suite", gate, [GateCase("passed", None, "a")], evidence=evidence)
    assert result.status == "failed"
    (check,) = result.checks
    assert (check.metric, check.threshold_key, check.passed) == ("randomization_similarity", "max_randomization_similarity", False)
    assert "do not explain this model" in check.reason


def test_spearman_is_the_rank_correlation_and_never_nan() -> None:
    assert average_ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]
    first = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert spearman(first, first**3) == pytest.approx(1.0)
    assert spearman(first, -first) == pytest.approx(-1.0)
    assert spearman(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0  # both constant: unchanged, counts against the gate
    assert spearman(np.zeros((2, 2)), first) == 0.0


def test_transplant_pairs_are_a_deterministic_sample_of_different_classes() -> None:
    classes = [0, 1] * 12
    pairs = transplant_pairs(classes, 64)
    assert len(pairs) == 64 and pairs == transplant_pairs(classes, 64)
    assert all(classes[donor] != classes[recipient] for donor, recipient in pairs)
    assert len(transplant_pairs([0, 1, 1], 64)) == 4


@pytest.mark.parametrize("evidence", [None, GateEvidence(error="the model could not be run")])
def test_a_causal_gate_without_its_evidence_is_an_error_never_a_pass(evidence: GateEvidence | None) -> None:
    gate = Gate(min_pass_rate=0.0, transplant="tag", max_transplant_flip_rate=1.0)
    result = evaluate_gate("suite", gate, [GateCase("passed", None, "a")], evidence=evidence)
    assert result.status == "error" and result.checks == ()
    assert ("not computed here" in result.reason) if evidence is None else ("the model could not be run" in result.reason)


def test_a_causal_gate_judged_from_merged_shards_is_an_error() -> None:
    entry = GateEntry(spec="s.yaml", status="not_run", cause="cases_not_run",
                      thresholds={"min_pass_rate": 0.5, "transplant": "tag", "max_transplant_flip_rate": 0.05, "transplant_pairs": 64})
    assert entry.gate().needs_evidence
    merged = merge_results([RunResults(cases=(), gates=(entry,))])
    assert merged.gates[0].status in ("error", "not_run")
    assert judge_gate(entry, []).status == "error"


def test_the_gate_result_records_flip_rate_and_pairs_and_reads_back() -> None:
    pairs = (TransplantPair("a", "b", 1, 0, 1, 0.9, ("vertical", "horizontal", "vertical")),
             TransplantPair("b", "a", 0, 1, 1, 0.2, ("horizontal", "vertical", "vertical")))
    gate = Gate(transplant="tag", max_transplant_flip_rate=0.4)
    result = evaluate_gate("suite", gate, [GateCase("passed", None, "a")], evidence=GateEvidence(0.5, pairs))
    assert result.status == "failed"
    assert result.measurements["transplant_flip_rate"] == 0.5 and result.measurements["transplant_pairs"] == 2
    assert [pair.recipient for pair in result.flipped_pairs] == ["b"]
    assert "1 of 2 pairs changed to the donor's class" in result.reason
    assert from_data(GateResult, to_data(result), "gate") == result


def test_a_removal_that_cannot_be_computed_is_the_cases_error(tmp_path: Path, window_model_file: Path) -> None:
    shutil.copy(window_model_file, tmp_path / "window.keras")
    save_png(tmp_path / "square.png", square_image(SIDE, (8, 8, 24, 24)))
    (tmp_path / "spec.yaml").write_text(f"""
model: window.keras
preprocess: scale01
layer: conv
cases:
  - id: everything
    image: square.png
    regions:
      - {{name: all, box: [0, 0, {SIDE}, {SIDE}], max_effect: 0.5}}
  - id: fine
    image: square.png
    regions:
      - {{name: square, box: [8, 8, 24, 24], max_effect: 1.0, removal: mean}}
""", encoding="utf-8")
    ledger = run_audit([tmp_path / "spec.yaml"])
    statuses = {case.id: (case.status, case.reason) for case in ledger.cases}
    assert statuses["everything"][0] == "error" and "covers the whole image" in statuses["everything"][1]
    assert statuses["fine"][0] == "passed"


def test_assert_attention_checks_the_effect(window_model_file: Path) -> None:
    import keras

    from gradcam_audit.plugin.assertions import AttentionAssertionError, assert_attention

    model: Any = keras.saving.load_model(window_model_file)
    picture = square_image(SIDE, (8, 8, 24, 24))
    options: dict[str, Any] = {"box": (8, 8, 24, 24), "target": 1, "layer": "conv", "preprocess": "scale01"}
    result = assert_attention(model, picture, max_effect=1.0, removal="mean", **options)
    assert result.regions[0].effect is not None and result.regions[0].effect > 0.8
    with pytest.raises(AttentionAssertionError, match="effect"):
        assert_attention(model, picture, max_effect=0.1, **options)


def test_a_deep_model_is_cut_into_a_few_cumulative_stages_ending_at_every_layer() -> None:
    from gradcam_audit.core.evaluate.causal import CASCADE_MOST_STAGES, cascade_counts

    assert cascade_counts(3) == [1, 2, 3]
    deep = cascade_counts(155)
    assert len(deep) == CASCADE_MOST_STAGES and deep[-1] == 155 and deep == sorted(set(deep)) and deep[0] >= 1
