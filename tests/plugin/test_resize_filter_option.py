"""`resize_filter:` in a spec, `--gradcam-resize-filter` / ini for specs that name none: the model sees those pixels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.plugin.conftest import SPECS, read_json

RECORDER = '''
import os
from pathlib import Path

import numpy as np


def preprocess(batch):
    # Keeps every batch the model is fed, so the test can compare it with PIL's own resize.
    folder = Path(os.environ["RECORD_FOLDER"])
    folder.mkdir(exist_ok=True)
    np.save(folder / f"batch-{len(list(folder.iterdir())):03d}.npy", np.asarray(batch))
    return batch / 255.0
'''

FILTERS = {"nearest": Image.Resampling.NEAREST, "bicubic": Image.Resampling.BICUBIC, "area": Image.Resampling.BOX,
           "bilinear": Image.Resampling.BILINEAR}


@pytest.fixture
def recorded(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytester.makepyfile(recorder=RECORDER)
    pytester.syspathinsert()  # in-process runs import the recorder from here
    monkeypatch.setenv("RECORD_FOLDER", str(pytester.path / "fed"))
    # A larger copy of a shipped picture, so fitting it to the model's 64×64 input really resamples it.
    picture = Image.open(SPECS / "images" / "stripes-0000.png").convert("RGB").resize((150, 110), Image.Resampling.BICUBIC)
    picture.save(pytester.path / "large.png")
    return pytester.path / "large.png"


def _case(image: Path) -> dict[str, object]:
    return {"id": "large", "image": str(image), "regions": [{"name": "anywhere", "box": [0, 0, 150, 110], "min_mass": 0.5}]}


def _fed(pytester: pytest.Pytester) -> np.ndarray:
    (batch,) = sorted((pytester.path / "fed").iterdir())[:1]
    return np.load(batch)[0]


def _expected(image: Path, resize_filter: str) -> np.ndarray:
    return np.asarray(Image.open(image).convert("RGB").resize((64, 64), FILTERS[resize_filter]), dtype=np.float32)


@pytest.mark.parametrize("resize_filter", ["nearest", "area"])
def test_the_specs_filter_is_what_the_model_is_fed_and_is_recorded(
    pytester: pytest.Pytester, write_spec: Callable[..., Path], recorded: Path, resize_filter: str
) -> None:
    write_spec(cases=[_case(recorded)], preprocess="recorder:preprocess", resize_filter=resize_filter)
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-no-report", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    np.testing.assert_allclose(_fed(pytester), _expected(recorded, resize_filter), atol=1.0)
    assert float(np.abs(_fed(pytester) - _expected(recorded, "bilinear")).max()) > 5  # not the default's pixels
    (case,) = read_json(pytester.path / "reports" / "gradcam" / "results.json")["cases"]
    assert case["result"]["resize_filter"] == resize_filter


def test_the_option_is_the_default_for_specs_that_name_no_filter_and_never_overrides_one(
    pytester: pytest.Pytester, write_spec: Callable[..., Path], recorded: Path
) -> None:
    write_spec("plain.yaml", cases=[_case(recorded)], preprocess="recorder:preprocess")
    write_spec("own.yaml", cases=[{**_case(recorded), "id": "own"}], preprocess="recorder:preprocess", resize_filter="nearest")
    result = pytester.runpytest("--gradcam-specs", "plain.yaml", "own.yaml", "--gradcam-resize-filter", "bicubic",
                                           "--gradcam-no-report", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    filters = {case["id"]: case["result"]["resize_filter"] for case in read_json(pytester.path / "reports" / "gradcam" / "results.json")["cases"]}
    assert filters == {"large": "bicubic", "own": "nearest"}


def test_a_wrong_filter_is_a_clear_error_in_the_spec_and_on_the_command_line(
    pytester: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    write_spec(count=1, resize_filter="lanczos")
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-no-report", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*suite.yaml:*resize_filter*got 'lanczos'*expected one of*bilinear*nearest*bicubic*area*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    usage = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-resize-filter", "cubic", "-p", "no:cacheprovider")
    assert usage.ret == pytest.ExitCode.USAGE_ERROR
    usage.stderr.fnmatch_lines(["*--gradcam-resize-filter 'cubic' is not one of: bilinear, nearest, bicubic, area*"])
