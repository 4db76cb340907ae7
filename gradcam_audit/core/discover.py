"""Discovering shortcuts no region names: the outside sweep run on every case (or a sample) of some specs, with the
findings and, per affected case, suggested forbidden regions for a person to review and paste into the spec.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from gradcam_audit.core.evaluate.outside_findings import Finding, outside_check_of, outside_findings
from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.core.run.runner import AuditRunner
from gradcam_audit.core.jobs import CaseJob
from gradcam_audit.core.spec.load import parse_spec
from gradcam_audit.core.spec.model import Case, Spec
from gradcam_audit.core.spec.paths import discover_spec_files, display_path
from gradcam_audit.errors import GradcamAuditError

DEFAULT_LIMIT = 0.15  # a drop of p(target) above this, from one cell no region names, is reported
SUGGESTED_MAX_MASS = 0.05  # what a suggested forbidden region allows of the heatmap's mass
SAMPLE_SEED = 0


class DiscoverInputError(GradcamAuditError, ValueError):
    """A path that is not a readable, valid spec (or folder of specs); the message lists the problems."""


@dataclass(frozen=True)
class AffectedCase:
    """A case that depends on pixels outside its required regions, with the regions suggested to forbid them."""

    id: str
    max_effect: float
    regions: tuple[dict[str, Any], ...]  # {name, box, max_mass, max_effect}, strongest first


@dataclass(frozen=True)
class SpecDiscovery:
    """One spec's sweep: how many cases were measured, the findings, the affected cases and the cases that errored."""

    spec: str
    measured: int
    findings: tuple[Finding, ...]
    affected: tuple[AffectedCase, ...]
    errors: tuple[tuple[str, str], ...] = ()  # (case id, reason)


def sample_cases(cases: tuple[Case, ...], sample: int | None) -> tuple[Case, ...]:
    """All cases, or a deterministic sample of ``sample`` of them in file order."""
    if sample is None or sample >= len(cases):
        return cases
    chosen = np.random.default_rng(SAMPLE_SEED).choice(len(cases), size=sample, replace=False)
    return tuple(cases[index] for index in sorted(int(index) for index in chosen))


def suggested_regions(result: CaseResult, limit: float) -> tuple[dict[str, Any], ...]:
    """The hotspots beyond ``limit`` (at least the strongest) as forbidden regions."""
    if result.outside is None or not result.outside.hotspots:
        return ()
    spots = [spot for spot in result.outside.hotspots if spot.effect > limit] or [result.outside.hotspots[0]]
    return tuple({"name": f"outside-{index + 1}", "box": list(spot.box), "max_mass": SUGGESTED_MAX_MASS, "max_effect": limit}
                 for index, spot in enumerate(spots))


def discover_spec(spec: Spec, shown: str, *, sample: int | None = None, limit: float = DEFAULT_LIMIT,
                  batch_size: int = 32) -> SpecDiscovery:
    """Run the sweep on the spec's cases (its first method); a case's own ``max_outside_effect`` wins over ``limit``."""
    cases = tuple(case if case.max_outside_effect is not None else replace(case, max_outside_effect=limit)
                  for case in sample_cases(spec.cases, sample))
    runner = AuditRunner(batch_size, executor="serial")
    jobs = [CaseJob(spec, case, spec.methods[0]) for case in cases]
    runner.plan(jobs)
    results: list[CaseResult] = []
    errors: list[tuple[str, str]] = []
    for job in jobs:
        result = runner.run(job).result
        if outside_check_of(result) is None and result.verdict == "error":
            errors.append((result.id, result.reason))
        else:
            results.append(result)
    findings, measured = outside_findings(results)
    affected = []
    for result in results:
        check = outside_check_of(result)
        if check is not None and not check.passed and result.outside is not None and result.outside.max_effect is not None:
            case_limit = float(check.limit) if isinstance(check.limit, (int, float)) else limit
            affected.append(AffectedCase(result.id, result.outside.max_effect, suggested_regions(result, case_limit)))
    return SpecDiscovery(shown, measured, findings, tuple(affected), tuple(errors))


def discover(paths: Iterable[Path], *, sample: int | None = None, limit: float = DEFAULT_LIMIT,
             batch_size: int = 32) -> list[SpecDiscovery]:
    """Every spec under ``paths``, swept.

    Raises:
        DiscoverInputError: a path does not exist, holds no spec, or a spec has problems (listed with file:line).
    """
    paths = list(paths)
    for path in paths:
        if not path.exists():
            raise DiscoverInputError(f"{path} not found: give a spec file or a folder of spec files")
    files = discover_spec_files(paths)
    if not files:
        raise DiscoverInputError("no spec file (*.yaml, *.yml) found; give a spec file or a folder of spec files")
    parsed = [parse_spec(file) for file in files]
    problems = [problem.format() for spec in parsed for problem in spec.all_problems]
    if problems:
        raise DiscoverInputError(f"{len(problems)} problem(s) in the spec(s); fix them first (gradcam-audit validate):\n"
                                 + "\n".join(problems))
    return [discover_spec(spec.spec, display_path(spec.path), sample=sample, limit=limit, batch_size=batch_size)
            for spec in parsed if spec.spec is not None]
