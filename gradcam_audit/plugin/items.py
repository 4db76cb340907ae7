"""Collection: a spec file becomes a pytest.File whose items are its cases (one per method) and its gate."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from gradcam_audit.core.gates import evaluate_gate
from gradcam_audit.core.results import CaseResult, GateResult
from gradcam_audit.core.runner import CaseJob
from gradcam_audit.core.spec.load import display_path, parse_spec
from gradcam_audit.core.spec.model import Region, Spec
from gradcam_audit.errors import Problem
from gradcam_audit.plugin.state import run_state
from gradcam_audit.rendering.text_table import failure_text

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr


class CaseNotPassed(Exception):
    """A case did not pass; carries the result for a readable failure instead of a traceback."""

    def __init__(self, result: CaseResult, overlay: str | None) -> None:
        super().__init__(result.reason)
        self.result = result
        self.overlay = overlay


class CaseFailed(CaseNotPassed):
    """The case missed a threshold (the only failure a spec's `xfail` may absorb)."""


class CaseError(CaseNotPassed):
    """The case could not be computed (model, layer, image, target): never absorbed by an expected failure."""


class GateFailed(Exception):
    """A suite gate missed a threshold."""


class SpecInvalid(Exception):
    """A spec (or one case of it) is invalid; the message lists every problem with file, line and field."""


def _apply_overrides(spec: Spec, overrides: dict[str, float]) -> Spec:
    if not overrides:
        return spec

    def region(original: Region) -> Region:
        # Field names are only known at run time, so the values cannot be checked against each field's type.
        changes: dict[str, Any] = {key: value for key, value in overrides.items() if getattr(original, key) is not None}
        return replace(original, **changes)

    cases = tuple(replace(case, regions=tuple(region(r) for r in case.regions)) for case in spec.cases)
    return replace(spec, cases=cases)


class SpecFile(pytest.File):
    """One YAML spec: yields a problem item, its case items and its gate item."""

    def collect(self) -> Iterator[pytest.Item]:
        state = run_state(self.config)
        parsed = parse_spec(self.path)
        spec = parsed.spec
        if parsed.problems:
            yield SpecProblemItem.from_parent(self, name="spec", problems=parsed.problems)
        if spec is None:
            return
        spec = _apply_overrides(spec, state.settings.overrides)
        methods = (state.settings.method,) if state.settings.method else spec.methods
        invalid_by_index = {case.index: case for case in spec.invalid_cases}
        valid = iter(spec.cases)
        total = len(spec.cases) + len(spec.invalid_cases)
        for index in range(total):
            if index in invalid_by_index:
                invalid = invalid_by_index[index]
                yield InvalidCaseItem.from_parent(self, name=invalid.id, problems=invalid.problems, line=invalid.line)
                continue
            case = next(valid)
            for method in methods:
                name = case.id if len(methods) == 1 else f"{case.id}[{method}]"
                if parsed.problems:
                    continue  # a file-level problem (e.g. the model) stops every case; the problem item says why
                job = CaseJob(spec, case, method)
                item = CaseItem.from_parent(self, name=name, job=job)
                item.add_marker("gradcam")
                for tag in case.tags:
                    state.register_marker(self.config, tag)
                    item.add_marker(tag)
                if case.xfail:
                    # Only a missed threshold is the expected failure; an error (bad layer, missing image) still fails.
                    item.add_marker(pytest.mark.xfail(reason=case.xfail, strict=True, raises=CaseFailed))
                yield item
        if spec.gate is not None and not parsed.problems:
            gate_item = GateItem.from_parent(self, name="gate", spec=spec, methods=methods)
            if spec.xfail:
                gate_item.add_marker(pytest.mark.xfail(reason=spec.xfail, strict=True, raises=GateFailed))
            yield gate_item


class CaseItem(pytest.Item):
    """One case with one method."""

    def __init__(self, *, job: CaseJob, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.case_result: CaseResult | None = None

    def runtest(self) -> None:
        state = run_state(self.config)
        outcome = state.runner.run(self.job)
        result = replace(outcome.result, nodeid=self.nodeid)
        images = state.render_images(result, outcome.image, outcome.heatmap)
        result = replace(result, images=images)
        state.record_verdict(self.job, result)
        self.case_result = result
        for key, value in junit_properties(result):
            self.user_properties.append((key, value))
        if result.status == "error":
            raise CaseError(result, state.overlay_display_path(images))
        if result.status != "passed":
            raise CaseFailed(result, state.overlay_display_path(images))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, CaseNotPassed):
            return failure_text(excinfo.value.result, excinfo.value.overlay)
        return super().repr_failure(excinfo)  # a bug in gradcam_audit itself: show the traceback

    def reportinfo(self) -> tuple[Any, int | None, str]:
        line = self.job.case.line
        return self.path, (line - 1) if line else None, _headline(self)


class ProblemItem(pytest.Item):
    """Fails with a spec's problems, listed with file, line and field; also reported as an error case."""

    def __init__(self, *, problems: tuple[Problem, ...], line: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problems = problems
        self.line = line

    def runtest(self) -> None:
        raise SpecInvalid(format_problems(self.problems))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, (self.line - 1) if self.line else None, _headline(self)

    def error_result(self) -> CaseResult:
        """The result the report shows, so an invalid spec can never look like a passed audit."""
        return CaseResult(spec=display_path(self.path), id=self.name, method="-", status="error",
                          reason=format_problems(self.problems), nodeid=self.nodeid)


class InvalidCaseItem(ProblemItem):
    """A case the loader rejected: it fails with its problems while the other cases run."""


class SpecProblemItem(ProblemItem):
    """File-level problems (YAML syntax, model, unknown keys): one failing item listing all of them."""


class GateItem(pytest.Item):
    """The spec's suite-level gate, after its cases. Cases not run in this process are computed here."""

    def __init__(self, *, spec: Spec, methods: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.methods = methods
        self.gate_result: GateResult | None = None

    def runtest(self) -> None:
        state = run_state(self.config)
        results = [state.verdict_for(CaseJob(self.spec, case, method)) for case in self.spec.cases for method in self.methods]
        assert self.spec.gate is not None
        errored = [result.id for result in results if result.status == "error"]
        if errored:
            raise SpecInvalid(f"gate cannot be judged: {len(errored)} case(s) could not be computed ({', '.join(errored[:10])}); fix them first")
        invalid_count = len(self.spec.invalid_cases) * len(self.methods)
        self.gate_result = evaluate_gate(display_path(self.spec.path), self.spec.gate, results, invalid_count)
        if self.gate_result.status != "passed":
            raise GateFailed(f"gate FAILED: {self.gate_result.reason}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, (SpecInvalid, GateFailed)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        line = self.spec.gate.line if self.spec.gate else None
        return self.path, (line - 1) if line else None, _headline(self)


def _headline(item: pytest.Item) -> str:
    # Not a suffix of the node id on purpose: pytest would read dots in it as Python module separators.
    return f"{item.name} ({item.path.name})"


def format_problems(problems: tuple[Problem, ...]) -> str:
    count = len(problems)
    return f"{count} problem{'s' if count != 1 else ''} in the spec:\n" + "\n".join(problem.format() for problem in problems)


def junit_properties(result: CaseResult) -> list[tuple[str, object]]:
    """Flat numbers for --junitxml (record_property style)."""
    properties: list[tuple[str, object]] = [("gradcam_method", result.method), ("gradcam_layer", result.layer or "")]
    if result.predicted is not None:
        properties.append(("gradcam_predicted", result.predicted.label or result.predicted.index))
    for region in result.regions:
        properties.append((f"gradcam_{region.name}_mass", round(region.mass, 6)))
        properties.append((f"gradcam_{region.name}_lift", round(region.lift, 6)))
    return properties

