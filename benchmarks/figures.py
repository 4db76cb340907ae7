"""Figures the docs quote, each between markers `<!--fig:SOURCE.KEY[:FORMAT]-->VALUE<!--/fig-->`: checked against,
or rewritten from, where they are measured.

A SOURCE is a benchmark's results file (benchmarks/results/SOURCE.json, written by the benchmark; KEY is one of its
figures or a top-level field such as `measured`, `commit`, `load_start`) or one of TEST_SOURCES, whose figures a test
computes from the run it already makes. FORMAT is a Python format spec (`.2f`, `,.0f`); none prints the value as is.
The comments are invisible on GitHub and in the site, so a reader sees only the value.

    python benchmarks/figures.py           # rewrite every benchmark figure in the docs from benchmarks/results/
    python benchmarks/figures.py --check   # list the figures that differ; exit 1 if any
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = REPOSITORY / "benchmarks" / "results"
MARKER = re.compile(r"<!--fig:(?P<source>[a-z0-9_]+)\.(?P<key>[a-z0-9_]+)(?::(?P<format>[^>]*?))?-->(?P<value>.*?)<!--/fig-->")

# Figures of the shipped example, computed by the test that already has what they need (no second run of the models).
TEST_SOURCES: dict[str, str] = {
    "example": "tests/test_doc_figures.py (the shipped example's plan: suites and cases, nothing run)",
    "example_run": "tests/plugin/test_example_audit.py (its run of `pytest --gradcam-specs specs/`)",
    "causal_example": "tests/causal/test_shipped_example.py (its audit of the CNN pair)",
}


@dataclass(frozen=True)
class Figure:
    path: Path
    line: int
    source: str
    key: str
    format: str
    value: str

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}: {self.source}.{self.key}"


def documents(root: Path = REPOSITORY) -> list[Path]:
    """Every Markdown file that may quote a figure: the README, benchmarks/README.md and the docs site."""
    candidates = [root / "README.md", root / "benchmarks" / "README.md", *sorted((root / "docs").rglob("*.md"))]
    return [path for path in candidates if path.is_file()]


def figures(root: Path = REPOSITORY) -> list[Figure]:
    found = []
    for path in documents(root):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for match in MARKER.finditer(line):
                found.append(Figure(path, number, match["source"], match["key"], match["format"] or "", match["value"]))
    return found


def benchmark_sources(results: Path = RESULTS) -> dict[str, dict[str, object]]:
    """SOURCE → its figures and top-level fields, one per results file."""
    sources: dict[str, dict[str, object]] = {}
    for path in sorted(results.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        sources[path.stem] = {**{key: value for key, value in document.items() if key != "figures"}, **document["figures"]}
    return sources


def render(value: object, format_spec: str) -> str:
    if value is None:
        return "—"  # the benchmark could not measure it
    return format(value, format_spec) if format_spec else str(value)


def drift(sources: Mapping[str, Mapping[str, object]], root: Path = REPOSITORY) -> list[str]:
    """One line per quoted figure of these sources that differs from its source (or names a figure it lacks)."""
    problems = []
    for figure in figures(root):
        if figure.source not in sources:
            continue
        if figure.key not in sources[figure.source]:
            problems.append(f"{figure.where(root)}: no such figure (known: {', '.join(sorted(sources[figure.source]))})")
            continue
        expected = render(sources[figure.source][figure.key], figure.format)
        if figure.value != expected:
            problems.append(f"{figure.where(root)}: the docs say {figure.value!r}, the source gives {expected!r}")
    return problems


def unknown_sources(known: set[str], root: Path = REPOSITORY) -> list[str]:
    return [f"{figure.where(root)}: no results file or test computes {figure.source!r}" for figure in figures(root)
            if figure.source not in known]


def rewrite(sources: Mapping[str, Mapping[str, object]], root: Path = REPOSITORY) -> list[Path]:
    """Puts each quoted figure of these sources in place; returns the files changed."""
    changed = []

    def replace(match: re.Match[str]) -> str:
        values = sources.get(match["source"])
        if values is None or match["key"] not in values:
            return match[0]
        new = render(values[match["key"]], match["format"] or "")
        return match[0][: match.start("value") - match.start()] + new + "<!--/fig-->"

    for path in documents(root):
        text = path.read_text(encoding="utf-8")
        updated = MARKER.sub(replace, text)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed.append(path)
    return changed


def check(sources: Mapping[str, Mapping[str, object]], root: Path = REPOSITORY) -> list[str]:
    """What a test asserts empty: drift(); with GRADCAM_AUDIT_REGENERATE=1 the figures are rewritten first (as the spec
    reference is), so a test that computed them puts them in place."""
    if os.environ.get("GRADCAM_AUDIT_REGENERATE") == "1":
        rewrite(sources, root)
    return [f"{problem} (GRADCAM_AUDIT_REGENERATE=1 rewrites it)" for problem in drift(sources, root)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only list the figures that differ from the results files")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the folder of results files (default benchmarks/results)")
    arguments = parser.parse_args()
    sources = benchmark_sources(arguments.results)
    if arguments.check:
        problems = drift(sources)
        print("\n".join(problems) or "every benchmark figure in the docs matches its results file")
        return 1 if problems else 0
    for path in rewrite(sources):
        print(f"updated {path.relative_to(REPOSITORY)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
