"""`validate --deep` catches the token-layout mistakes a run would hit (layer_grid, prefix_tokens, rollout on a CNN),
at the key to fix, and the run gives the same reason as the case's error."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from gradcam_audit.core.run.runner import AuditRunner
from gradcam_audit.core.jobs import CaseJob
from gradcam_audit.core.spec.load import parse_spec
from gradcam_audit.core.validate import validate_paths
from tests.spec.helpers import HONEST_MODEL, marked_line, write_spec
from tests.vit.conftest import reloaded, tiny_vit

# A 32×32 input cut into 4-pixel patches: an 8×8 grid plus a class token, 65 tokens.
SPEC = """
model: {model}
labels: [a, b, c]
layer: encoder_norm
{keys}
cases:
  - id: one
    image: image.png
    target: a
    regions: [{{name: r, box: [0, 0, 16, 16], min_mass: 0.1}}]
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("token_layout")
    reloaded(tiny_vit(image_size=32, patch_size=4, name="vit65"), root)
    Image.new("RGB", (32, 32), (90, 20, 200)).save(root / "image.png")
    return root


def _spec(folder: Path, name: str, keys: str) -> Path:
    return write_spec(folder, SPEC.format(model="vit65.keras", keys=keys), name=name)


def _cnn_spec(folder: Path, name: str, keys: str) -> Path:
    text = SPEC.format(model=HONEST_MODEL, keys=keys).replace("layer: encoder_norm\n", "")
    return write_spec(folder, text.replace("[a, b, c]", "[horizontal, vertical]").replace("target: a", "target: vertical"), name=name)


def test_deep_validation_names_the_token_key_the_layer_and_the_layouts_that_fit(folder: Path) -> None:
    too_many = _spec(folder, "too_many.yaml", "prefix_tokens: 1000  # <-")
    mismatched = _spec(folder, "mismatched.yaml", "layer_grid: [8, 8]  # <-\nprefix_tokens: 5")
    single = _spec(folder, "single.yaml", "layer_grid: [1, 1]  # <-")
    rollout_on_cnn = _cnn_spec(folder, "rollout_cnn.yaml", "method: rollout  # <-")
    good = _spec(folder, "good.yaml", "layer_grid: [8, 8]\nprefix_tokens: 1\nmethod: [gradcam, rollout]")
    assert validate_paths([good], deep=True).ok
    expected = {too_many: ("prefix_tokens", ["got prefix_tokens: 1000", "65 tokens"]),
                mismatched: ("layer_grid", ["got layer_grid: [8, 8]", "65 tokens", "prefix_tokens 5", "makes 69"]),
                single: ("layer_grid", ["got layer_grid: [1, 1]", "65 tokens", "single patch"]),
                rollout_on_cnn: ("method", ["rollout", "no keras.layers.MultiHeadAttention"])}
    for path, (field, words) in expected.items():
        report = validate_paths([path], deep=True)
        assert len(report.problems) == 1, (path.name, report.problems)
        problem = report.problems[0]
        assert (Path(problem.file).name, problem.field, problem.line) == (path.name, field, marked_line(path, "# <-")), problem
        for word in words:
            assert word in problem.message, (word, problem.message)
        assert problem.fix
        if field != "method":  # what would fit is said: the layer's own layout
            assert "prefix_tokens: 1 with layer_grid: [8, 8]" in problem.fix, problem.fix


@pytest.mark.parametrize(("keys", "reason"), [("prefix_tokens: 1000", "prefix_tokens 1000 leaves 0 patch token(s)"),
                                              ("layer_grid: [1, 1]", "single patch"),
                                              ("layer_grid: [8, 8]\nprefix_tokens: 5", "makes 69")])
def test_the_run_gives_the_same_reason_as_the_case_error(folder: Path, keys: str, reason: str) -> None:
    spec = parse_spec(_spec(folder, "run.yaml", keys)).spec
    assert spec is not None
    outcome = AuditRunner(4, executor="serial").run(CaseJob(spec, spec.cases[0], "gradcam"))
    assert outcome.result.verdict == "error"
    assert reason in outcome.result.reason and "65 tokens" in outcome.result.reason, outcome.result.reason
    assert "prefix_tokens: 1 with layer_grid: [8, 8]" in outcome.result.reason
