"""Every figure the docs quote between `<!--fig:…-->` markers equals where it is measured: a benchmark's results file
(benchmarks/results/) or the shipped example's plan; the tests that run the example check the figures of its run."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from benchmarks import figures
from benchmarks.run_all import BENCHMARKS
from gradcam_audit.core.plan import plan_audit

REPOSITORY = Path(__file__).resolve().parents[1]
BENCHMARK_FOLDER = REPOSITORY / "benchmarks"
HELPERS = {"figures.py", "run_all.py"}


def example_plan_figures() -> dict[str, object]:
    """The example's suites and cases, planned as `pytest --gradcam-specs specs/` plans them (no model is loaded)."""
    plan = plan_audit([REPOSITORY / "specs"])
    counts: dict[str, object] = {"suites": len(plan.specs), "cases": len(plan.cases), "gates": len(plan.gates)}
    for spec_plan in plan.specs:
        counts[f"cases_{spec_plan.path.stem}"] = len(spec_plan.cases)
    return counts


def test_every_quoted_figure_names_a_results_file_or_a_test_that_computes_it() -> None:
    known = set(figures.benchmark_sources()) | set(figures.TEST_SOURCES)
    assert figures.unknown_sources(known) == []
    assert figures.figures(), "no figure is quoted through markers: the docs went back to hand-copied numbers"


def test_benchmark_figures_in_the_docs_match_their_results_files() -> None:
    assert figures.check(figures.benchmark_sources()) == []


def test_the_example_counts_in_the_docs_match_its_plan() -> None:
    quoted = {figure.key for figure in figures.figures() if figure.source == "example"}
    assert {"suites", "cases"} <= quoted  # the README and quick start say how big the example is
    assert figures.check({"example": example_plan_figures()}) == []


def test_each_results_file_says_when_where_and_how_it_was_measured() -> None:
    for path in sorted((BENCHMARK_FOLDER / "results").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"), parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
        assert document["benchmark"] == path.stem, path
        assert {"measured", "commit", "cpus", "load_start", "load_end", "command", "figures"} <= set(document), path
        assert all(isinstance(value, (int, float, str)) or value is None for value in document["figures"].values()), path


def test_every_benchmark_runs_from_run_all_and_writes_its_results_file() -> None:
    """A benchmark added without wiring would print figures no doc can quote; run_all.py would never refresh it."""
    scripts = {path.stem for path in BENCHMARK_FOLDER.glob("*.py") if not path.name.startswith("_") and path.name not in HELPERS}
    assert scripts == set(BENCHMARKS)
    for name in scripts:
        calls = [node for node in ast.walk(ast.parse((BENCHMARK_FOLDER / f"{name}.py").read_text(encoding="utf-8")))
                 if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "write_results"]
        assert [call.args[0].value for call in calls if isinstance(call.args[0], ast.Constant)] == [name], name
        assert (BENCHMARK_FOLDER / "results" / f"{name}.json").is_file(), name


def test_rewrite_puts_each_source_value_between_its_markers_and_drift_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text("intro\nratio <!--fig:speed.ratio:.2f-->0.83<!--/fig-->×, on <!--fig:speed.measured-->old<!--/fig-->\n", encoding="utf-8")
    sources = {"speed": {"ratio": 0.9149, "measured": "2027-01-02"}}
    assert figures.drift(sources, tmp_path) == [
        "docs/page.md:2: speed.ratio: the docs say '0.83', the source gives '0.91'",
        "docs/page.md:2: speed.measured: the docs say 'old', the source gives '2027-01-02'"]
    assert figures.rewrite(sources, tmp_path) == [page]
    assert page.read_text(encoding="utf-8") == ("intro\nratio <!--fig:speed.ratio:.2f-->0.91<!--/fig-->×, on "
                                                "<!--fig:speed.measured-->2027-01-02<!--/fig-->\n")
    assert figures.drift(sources, tmp_path) == []
    assert figures.drift({"speed": {}}, tmp_path)[0].startswith("docs/page.md:2: speed.ratio: no such figure")
    assert figures.unknown_sources({"other"}, tmp_path) == [
        "docs/page.md:2: speed.ratio: no results file or test computes 'speed'",
        "docs/page.md:2: speed.measured: no results file or test computes 'speed'"]
