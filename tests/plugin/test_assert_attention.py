"""`assert_attention` (and the `gradcam_audit` fixture): the same verdict and table from a Python test."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import HONEST_MODEL, SPECS, shipped_cases

FIRST = shipped_cases(1)[0]
STRIPES_BOX = FIRST["regions"][0]["box"]
TAG_BOX = FIRST["regions"][1]["box"]


def test_passing_attention_returns_the_numbers() -> None:
    import keras

    from gradcam_audit.plugin.assertions import assert_attention

    model = keras.saving.load_model(HONEST_MODEL)
    result = assert_attention(model, SPECS / FIRST["image"].split("specs/")[-1], box=STRIPES_BOX, min_lift=2.0,
                              preprocess="scale01", labels=["horizontal", "vertical"], target=FIRST["target"])
    assert result.verdict == "passed"
    assert result.regions[0].lift >= 2.0


def test_missed_attention_raises_assertion_error_with_the_table() -> None:
    import keras

    from gradcam_audit.plugin.assertions import AttentionAssertionError, assert_attention

    model = keras.saving.load_model(HONEST_MODEL)
    with pytest.raises(AttentionAssertionError) as raised:
        assert_attention(model, FIRST["image"], box=TAG_BOX, name="corner-tag", min_mass=0.5, preprocess="scale01")
    message = str(raised.value)
    assert "corner-tag: mass 0.0" in message and "< min_mass 0.5" in message
    assert "region" in message and "threshold" in message and "FAIL" in message


def test_any_region_metric_key_is_set_by_its_spec_name() -> None:
    """`thresholds=` reaches every metric's keys (min_iou and its iou_threshold have no keyword of their own)."""
    import keras

    from gradcam_audit.errors import GradcamAuditError
    from gradcam_audit.plugin.assertions import AttentionAssertionError, assert_attention

    model = keras.saving.load_model(HONEST_MODEL)
    with pytest.raises(AttentionAssertionError) as raised:
        assert_attention(model, FIRST["image"], box=TAG_BOX, name="corner-tag", preprocess="scale01",
                         thresholds={"min_iou": 0.9, "iou_threshold": 0.25})
    assert "corner-tag: IoU 0." in str(raised.value) and "< min_iou 0.9 (heatmap ≥ 0.25× max)" in str(raised.value)
    with pytest.raises(GradcamAuditError, match="unknown threshold 'min_ioo' in thresholds=; expected one of min_mass, "):
        assert_attention(model, FIRST["image"], box=TAG_BOX, thresholds={"min_ioo": 0.3})


def test_fixture_failure_shows_table_without_traceback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_attention=f"""
import keras

def test_tag(gradcam_audit):
    model = keras.saving.load_model({str(HONEST_MODEL)!r})
    gradcam_audit.assert_attention(model, {FIRST["image"]!r}, box={TAG_BOX!r}, name="corner-tag",
                                   min_lift=3.0, preprocess="scale01")
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AttentionAssertionError: attention check failed*", "*corner-tag*lift*>= 3*FAIL*"])
    assert "gradcam_audit/plugin/assertions.py" not in result.stdout.str()
