"""`gradcam-audit discover SPEC|DIR`: find what the model relies on outside the regions, and suggest forbidden regions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gradcam_audit.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, HelpFormatter, UsageError, fraction

_EPILOG = """\
Removes small cells outside each case's required regions (4x4 grid, the hottest cell refined: at most 25 images per
case, batched) and reports where removing one lowers p(target) by more than --limit. Writes, with -o, each affected
case with suggested forbidden regions (name, box, max_mass, max_effect) for you to review and paste into the spec.
Exit status: 0 nothing found, 1 something found, 2 bad input (or a case that could not be computed).

examples:
  gradcam-audit discover specs/kitchen.yaml
  gradcam-audit discover specs --sample 50 -o suggested.yaml
"""


def add_parser(subcommands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subcommands.add_parser(
        "discover",
        help="find what the model relies on outside your regions; suggest forbidden regions",
        description="Find what the model relies on outside the spec's required regions, and suggest forbidden regions.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="SPEC|DIR", help="spec files or folders of spec files")
    parser.add_argument("--sample", type=int, metavar="N", help="sweep a deterministic sample of N cases per spec (default: every case)")
    parser.add_argument("--limit", type=fraction, default=None, metavar="F",
                        help="report a cell whose removal lowers p(target) by more than F (default 0.15; a case's own "
                             "max_outside_effect wins)")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the affected cases and suggested regions (YAML)")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="images per forward pass (default 32)")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    from gradcam_audit.cli.quiet import silence_tensorflow
    from gradcam_audit.core.discover import DEFAULT_LIMIT, DiscoverInputError, discover

    if arguments.sample is not None and arguments.sample < 1:
        raise UsageError(f"--sample must be a whole number ≥ 1, got {arguments.sample}")
    if arguments.batch_size < 1:
        raise UsageError(f"--batch-size must be a whole number ≥ 1, got {arguments.batch_size}")
    limit = DEFAULT_LIMIT if arguments.limit is None else arguments.limit
    if not arguments.verbose:
        silence_tensorflow()
    try:
        swept = discover(arguments.paths, sample=arguments.sample, limit=limit, batch_size=arguments.batch_size)
    except DiscoverInputError as error:
        raise UsageError(str(error)) from None
    lines = summary_lines(swept)
    for line in lines:
        print(line)
    if arguments.output is not None:
        write_suggestions(arguments.output, swept, lines)
        print(f"suggested forbidden regions written to {arguments.output}")
    if any(spec.affected for spec in swept):
        return EXIT_FAILED
    # "Nothing found" only when every case was measured: a case that could not be computed is bad input.
    return EXIT_USAGE if any(spec.errors for spec in swept) else EXIT_OK


def summary_lines(swept: list[Any]) -> list[str]:
    """The findings in plain words, one line each (printed, and written as the YAML file's comments)."""
    from gradcam_audit.core.evaluate.outside_findings import describe_finding

    lines: list[str] = []
    for spec in swept:
        if spec.affected:
            lines.append(f"{spec.spec}: {len(spec.affected)} of {spec.measured} cases depend on pixels outside their required regions")
            lines.extend(f"  {describe_finding(finding, spec.measured)}" for finding in spec.findings)
        else:
            lines.append(f"{spec.spec}: nothing found outside the required regions in {spec.measured} cases")
        lines.extend(f"  {case_id}: not measured ({reason})" for case_id, reason in spec.errors)
    return lines


def write_suggestions(path: Path, swept: list[Any], lines: list[str]) -> None:
    """The affected cases with their suggested regions, emitted by yaml.safe_dump under a commented summary."""
    import yaml

    data = {"specs": [{"spec": spec.spec,
                       "cases": [{"id": case.id, "max_outside_effect_measured": round(case.max_effect, 4),
                                  "regions": [dict(region) for region in case.regions]} for case in spec.affected]}
                      for spec in swept if spec.affected]}
    header = ["gradcam-audit discover: suggested forbidden regions, for a person to review before pasting them into the spec.",
              "Each box is in pixels of the case's image; removing it lowered p(target) by more than the limit.", "",
              *lines]
    comments = "".join(f"# {' '.join(line.splitlines())}".rstrip() + "\n" for line in header)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(comments + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
