"""pytest glue (entry point ``pytest11: gradcam_audit``): options, collection, outcomes, outputs.

No maths here: the core computes, the renderers draw, this module wires them into pytest.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gradcam_audit.core.results import case_to_dict, gate_to_dict
from gradcam_audit.core.runner import base_result
from gradcam_audit.core.spec.load import is_spec_file
from gradcam_audit.plugin.collector import ResultCollector
from gradcam_audit.plugin.items import CaseItem, GateItem, ProblemItem, SpecFile
from gradcam_audit.plugin.options import add_options, read_settings
from gradcam_audit.plugin.state import has_run_state, install, run_state


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def _route_arguments(config: pytest.Config, spec_paths: tuple[Path, ...]) -> None:
    """`pytest --gradcam-specs specs/` alone runs the audit only; with explicit test paths, both.

    Specs named in the ini file (`gradcam_specs`) are added to what pytest would run anyway, so a plain
    `pytest` runs the unit tests and the audit.
    """
    from_command_line = bool(config.getoption("gradcam_specs"))
    if from_command_line and config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(path) for path in spec_paths]
        return
    present = {Path(config.invocation_params.dir, argument.split("::")[0]).resolve() for argument in config.args}
    config.args.extend(str(path) for path in spec_paths if path not in present)


def pytest_configure(config: pytest.Config) -> None:
    settings = read_settings(config)
    install(config, settings)
    config.addinivalue_line("markers", "gradcam: a gradcam_audit spec case")
    if settings.spec_paths:
        missing = [str(path) for path in settings.spec_paths if not path.exists()]
        if missing:
            raise pytest.UsageError(f"--gradcam-specs: no such file or directory: {', '.join(missing)}")
        _route_arguments(config, settings.spec_paths)
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(ResultCollector(config, settings), "gradcam-result-collector")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SpecFile | None:
    if not has_run_state(parent.config) or not is_spec_file(file_path):
        return None
    resolved = file_path.resolve()
    for spec_path in run_state(parent.config).settings.spec_paths:
        if resolved == spec_path or spec_path in resolved.parents:
            return SpecFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--gradcam-shard K/N keeps every N-th audit item (starting at K), so N machines split one suite."""
    if not has_run_state(config):
        return
    shard = run_state(config).settings.shard
    if shard is None:
        return
    index, count = shard
    audit_items = [item for item in items if isinstance(item.parent, SpecFile)]
    deselected = [item for position, item in enumerate(audit_items) if position % count != index - 1]
    if deselected:
        deselected_ids = {id(item) for item in deselected}
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if id(item) not in deselected_ids]


@pytest.fixture
def gradcam_audit() -> Any:
    """Helpers for plain Python tests: ``gradcam_audit.assert_attention(model, image, box=..., min_lift=1.5)``."""
    from types import SimpleNamespace

    from gradcam_audit.core.engine.explain import explain
    from gradcam_audit.plugin.assertions import assert_attention

    return SimpleNamespace(assert_attention=assert_attention, explain=explain)


def pytest_collection_finish(session: pytest.Session) -> None:
    if has_run_state(session.config):
        case_items = [item for item in session.items if isinstance(item, CaseItem)]
        # Batches never span spec files: under xdist each spec file runs on one worker (xdist_scheduling).
        run_state(session.config).runner.plan([item.job for item in case_items], groups=[str(item.path) for item in case_items])


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With `-n` and the default `--dist load`, keep each spec file on one worker so its cases batch there."""
    if not has_run_state(config) or not run_state(config).settings.spec_paths or config.getoption("dist") != "load":
        return None
    from gradcam_audit.plugin.xdist_scheduling import make_scheduler

    return make_scheduler(config, log)


def _final_status(item: CaseItem, report: pytest.TestReport) -> tuple[str, str | None]:
    was_xfail = hasattr(report, "wasxfail")
    if report.skipped:
        return ("xfailed", None) if was_xfail else ("skipped", str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else None)
    if report.passed:
        return ("xpassed", None) if was_xfail else ("passed", None)
    if "XPASS(strict)" in str(report.longrepr):
        return "xpassed", f"expected to fail ({item.job.case.xfail}) but passed: the strict expected failure no longer holds"
    if item.case_result is not None:
        return item.case_result.status, None
    return "error", f"internal error: {str(report.longrepr).strip().splitlines()[-1] if report.longrepr else 'unknown'}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if isinstance(item, CaseItem):
        is_setup_skip = report.when == "setup" and report.skipped
        if report.when == "call" or is_setup_skip:
            status, reason = _final_status(item, report)
            result = item.case_result or base_result(item.job, status, reason or "")
            # Travels to the xdist controller with the report (pytest serialises plain attributes).
            report.gradcam_case = case_to_dict(result.with_status(status, reason))  # type: ignore[attr-defined]
    elif isinstance(item, ProblemItem) and report.when == "call":
        report.gradcam_case = case_to_dict(item.error_result())  # type: ignore[attr-defined]
    elif isinstance(item, GateItem) and report.when == "call" and item.gate_result is not None:
        status = item.gate_result.status
        if hasattr(report, "wasxfail"):
            status = "xfailed" if report.skipped else "xpassed"
        elif "XPASS(strict)" in str(report.longrepr):
            status = "xpassed"
        report.gradcam_gate = gate_to_dict(replace(item.gate_result, status=status))  # type: ignore[attr-defined]
    return report
