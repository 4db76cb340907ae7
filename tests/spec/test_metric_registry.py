"""A region metric is one unit: a toy metric registered from a temporary module is loaded, checked, documented and shown.

Nothing but the toy module (written under tmp_path) is added: the loader, the JSON Schema, the docs' spec reference,
the scorer and the failure table all learn the key from the metric's own declaration.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import jsonschema
import numpy as np
import pytest
import yaml

from gradcam_audit.core.evaluate.metrics import (
    REGION_METRICS,
    RegionMetric,
    SpecKey,
    register_region_metric,
    unregister_region_metric,
)
from gradcam_audit.core.spec.fields import sections
from gradcam_audit.core.spec.load import parse_spec
from gradcam_audit.core.spec.model import Region, Shape
from gradcam_audit.core.spec.reference import spec_reference
from gradcam_audit.core.spec.schema import directory_defaults_schema, spec_schema
from gradcam_audit.rendering.views.check_format import finding_words
from gradcam_audit.rendering.text.text_table import failure_text
from tests.plugin.conftest import HONEST_MODEL, shipped_cases
from tests.report.synthetic import case as synthetic_case
from tests.spec.helpers import VALID_SPEC, make_folder, marked_line, write_spec

# The whole metric: its key (a share in [0, 1]) and parameter (a power > 0), words, and the sentence for a miss.
TOY_MODULE = '''
"""A toy region metric: the region's mass raised to a power."""

from __future__ import annotations

from gradcam_audit.core.records.checks import CheckValue
from gradcam_audit.core.evaluate.metrics import RegionContext, RegionMetric, SpecKey
from gradcam_audit.core.spec.model import Region


class MinToyMass(RegionMetric):
    key = SpecKey("min_toy_mass", "fraction", "Toy: least mass inside, raised to `toy_power`.", "0.25",
                  "a toy share between 0 and 1, e.g. 0.25")
    parameters = (SpecKey("toy_power", "positive", "Toy: the power the mass is raised to.", "2", "a power above 0, e.g. 2",
                          default=2.0),)
    metric = "toy_mass"
    comparison = ">="
    label = "toy share of the attention"
    display = "share"

    def measure(self, region: Region, context: RegionContext) -> CheckValue:
        return context.mass ** self.parameter(region, "toy_power")

    def finding(self, name: str, value: float | bool, limit: float | bool, forbidden: bool) -> str | None:
        return f"the toy share of {name} is only {float(value):.3f}, below {float(limit):g}"
'''

TOY_SPEC = VALID_SPEC.replace("min_mass: 0.3", "min_toy_mass: 0.25\n        toy_power: 1")


def _import_toy_module(folder: Path) -> ModuleType:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "toy_metric_module.py"
    path.write_text(TOY_MODULE, encoding="utf-8")
    module_spec = importlib.util.spec_from_file_location("toy_metric_module", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.fixture
def toy_metric(tmp_path: Path) -> Iterator[RegionMetric]:
    """The toy metric, registered for one test and unregistered afterwards (no leak into other tests)."""
    module = _import_toy_module(tmp_path / "module")
    metric: RegionMetric = module.MinToyMass()
    register_region_metric(metric)
    try:
        yield metric
    finally:
        unregister_region_metric("min_toy_mass")
    assert REGION_METRICS.by_key("min_toy_mass") is None


def test_an_unregistered_key_is_rejected_by_the_loader_and_the_schema(tmp_path: Path) -> None:
    """The premise: without the metric, its key is unknown everywhere (so the tests below measure the registry)."""
    root = make_folder(tmp_path / "specs")
    problems = parse_spec(write_spec(root, TOY_SPEC)).all_problems
    assert any(problem.field == "cases[0].regions[0].min_toy_mass" and "unknown key" in problem.message for problem in problems)
    assert not jsonschema.Draft202012Validator(spec_schema()).is_valid(yaml.safe_load(TOY_SPEC))


def test_a_spec_using_the_metric_is_accepted_with_its_values(toy_metric: RegionMetric, tmp_path: Path) -> None:
    root = make_folder(tmp_path / "specs")
    parsed = parse_spec(write_spec(root, TOY_SPEC))
    assert parsed.all_problems == ()
    assert parsed.spec is not None
    (region,) = parsed.spec.cases[0].regions
    assert (region.threshold("min_toy_mass"), region.threshold("toy_power")) == (0.25, 1.0)
    inherited = parse_spec(write_spec(root, TOY_SPEC.replace("min_toy_mass: 0.25\n        toy_power: 1", "min_lift: 1.5")
                                      .replace("cases:", "defaults:\n  min_toy_mass: 0.4\ncases:"), "inherited.yaml"))
    assert inherited.all_problems == () and inherited.spec is not None
    assert inherited.spec.cases[0].regions[0].threshold("min_toy_mass") == 0.4


def test_the_loader_checks_the_declared_range_with_the_declared_fix(toy_metric: RegionMetric, tmp_path: Path) -> None:
    root = make_folder(tmp_path / "specs")
    path = write_spec(root, TOY_SPEC.replace("min_toy_mass: 0.25", "min_toy_mass: 1.5  # <-"))
    (problem,) = parse_spec(path).all_problems
    assert problem.field == "cases[0].regions[0].min_toy_mass"
    assert "got 1.5, which is outside [0, 1]" in problem.message
    assert problem.fix == "a toy share between 0 and 1, e.g. 0.25"
    assert problem.line == marked_line(path) and Path(problem.file).name == "spec.yaml"
    negative_power = write_spec(root, TOY_SPEC.replace("toy_power: 1", "toy_power: 0"), "power.yaml")
    (problem,) = parse_spec(negative_power).all_problems
    assert (problem.field, problem.fix) == ("cases[0].regions[0].toy_power", "a power above 0, e.g. 2")
    assert "expected a number greater than 0" in problem.message


def test_the_core_measures_and_decides_the_check(toy_metric: RegionMetric) -> None:
    from gradcam_audit.core.evaluate.scoring import score_region

    heatmap = np.ones((10, 10))  # an even map: half of its mass in the top half
    mask = np.zeros((10, 10), dtype=bool)
    mask[0:5, :] = True
    squared = score_region(heatmap, mask, Region("top", Shape("box", box=(0, 0, 10, 5)), min_toy_mass=0.3))
    (check,) = squared.checks
    assert (check.metric, check.threshold_key, check.comparison, check.limit) == ("toy_mass", "min_toy_mass", ">=", 0.3)
    assert check.value == pytest.approx(0.25) and not check.passed  # 0.5 ** 2 (the declared default power)
    assert check.reason == "toy_mass 0.250 < min_toy_mass 0.3"
    linear = score_region(heatmap, mask, Region("top", Shape("box", box=(0, 0, 10, 5)), min_toy_mass=0.3, toy_power=1.0))
    assert linear.checks[0].value == pytest.approx(0.5) and linear.checks[0].passed and not squared.passed


def test_the_key_is_listed_in_both_schemas_and_the_reference(toy_metric: RegionMetric) -> None:
    definitions = spec_schema()["$defs"]
    for section in ("region", "defaults"):
        properties = definitions[section]["properties"]
        assert properties["min_toy_mass"] == {"type": "number", "minimum": 0, "maximum": 1,
                                              "description": "Toy: least mass inside, raised to `toy_power`."}
        assert properties["toy_power"]["exclusiveMinimum"] == 0 and properties["toy_power"]["default"] == 2.0
    assert "min_toy_mass" in directory_defaults_schema()["$defs"]["region"]["properties"]
    assert jsonschema.Draft202012Validator(spec_schema()).is_valid(yaml.safe_load(TOY_SPEC))
    assert not jsonschema.Draft202012Validator(spec_schema()).is_valid(yaml.safe_load(TOY_SPEC.replace("0.25", "1.5")))
    reference = spec_reference()
    for title in ("cases[].regions[]", "defaults"):
        table = reference.split(f"\n## `{title}`\n", 1)[1].split("\n## ", 1)[0]
        assert "| `min_toy_mass` | number in [0, 1] | — | Toy: least mass inside, raised to `toy_power`. | `0.25` |" in table
        assert "| `toy_power` | number > 0 | `2.0` |" in table
    assert "min_toy_mass" in [field_doc.name for field_doc in sections()["cases[].regions[]"]]


def test_a_miss_is_shown_in_the_failure_table_with_its_words(toy_metric: RegionMetric) -> None:
    from gradcam_audit.core.evaluate.scoring import score_region

    heatmap = np.ones((10, 10))
    mask = np.zeros((10, 10), dtype=bool)
    mask[0:2, :] = True
    score = score_region(heatmap, mask, Region("corner", Shape("box", box=(0, 0, 10, 2)), min_toy_mass=0.5))
    entry = synthetic_case("toy-0001", "failed", (score,))
    text = failure_text(entry)
    assert "FAILED: corner: toy_mass 0.040 < min_toy_mass 0.5" in text
    row = next(line for line in text.splitlines() if "toy mass" in line)
    assert row.split() == ["corner", "toy", "mass", "0.040", ">=", "0.5", "-", "FAIL"]
    assert finding_words(score.checks[0], score) == "the toy share of “corner” is only 0.040, below 0.5"


def test_registration_is_undone_and_clashes_are_refused(tmp_path: Path) -> None:
    module = _import_toy_module(tmp_path / "module")
    before = spec_schema()
    with REGION_METRICS.registered(module.MinToyMass()):
        assert spec_schema() != before
        with pytest.raises(ValueError, match="already declared"):
            register_region_metric(module.MinToyMass())
    assert spec_schema() == before and REGION_METRICS.by_key("min_toy_mass") is None

    class Clashing(RegionMetric):
        key = SpecKey("min_lift", "fraction", "clash", "0.1")
        metric = "clash"
        comparison = ">="

    with pytest.raises(ValueError, match="'min_lift' is already declared"):
        register_region_metric(Clashing())
    assert [metric.threshold_key for metric in REGION_METRICS] == [
        "min_mass", "max_mass", "min_lift", "peak_inside", "min_iou", "max_effect", "min_effect"]


def test_the_plugin_prints_the_toy_metric_in_its_failure_table(pytester: pytest.Pytester) -> None:
    """End to end: a conftest registers the toy metric; the real model misses it; pytest prints the table row."""
    pytester.makepyfile(toy_metric_module=TOY_MODULE)
    pytester.makeconftest("""
        from gradcam_audit.core.evaluate.metrics import register_region_metric, unregister_region_metric
        from toy_metric_module import MinToyMass

        def pytest_configure(config):
            register_region_metric(MinToyMass())

        def pytest_unconfigure(config):
            unregister_region_metric("min_toy_mass")
    """)
    pytester.syspathinsert()
    cases = shipped_cases(1)
    cases[0]["regions"] = [{**cases[0]["regions"][0], "min_toy_mass": 0.99, "toy_power": 1}]
    for key in ("min_mass", "min_lift", "max_mass", "peak_inside", "min_iou"):
        cases[0]["regions"][0].pop(key, None)
    document = {"model": str(HONEST_MODEL), "preprocess": "scale01", "labels": ["horizontal", "vertical"], "cases": cases}
    (pytester.path / "suite.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    try:
        result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-no-report", "-p", "no:cacheprovider")
    finally:
        sys.modules.pop("toy_metric_module", None)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAILED: stripes: toy_mass 0.* < min_toy_mass 0.99",
                                 "*region*metric*value*threshold*chance*verdict*",
                                 "*stripes*toy mass*0.*>= 0.99*FAIL*"])
    assert "Traceback" not in result.stdout.str()
    assert REGION_METRICS.by_key("min_toy_mass") is None
