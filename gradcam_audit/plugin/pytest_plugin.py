"""pytest glue (entry point ``pytest11: gradcam_audit``): options, collection, outcomes, outputs.

No maths and no verdicts here: the core's Audit plans and decides, the renderers draw, this module wires them
into pytest.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from gradcam_audit.core.records.codec import to_data
from gradcam_audit.plugin.collector import ResultCollector, claim_outputs
from gradcam_audit.plugin.crash_isolation import NOTICE_KEY, IsolationNotice
from gradcam_audit.plugin.discovery import explicit_spec_files
from gradcam_audit.plugin.items import CaseItem, GateItem, SpecFile
from gradcam_audit.plugin.options import add_options, check_writable, read_settings
from gradcam_audit.plugin.state import has_run_state, install, run_state


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _route_arguments(config: pytest.Config, spec_paths: tuple[Path, ...]) -> None:
    """`pytest --gradcam-specs specs/` alone runs the audit only; with explicit test paths, both.

    Specs named in the ini file (`gradcam_specs`) are added to what pytest would run anyway, so a plain
    `pytest` runs the unit tests and the audit. A node id or file inside a spec path narrows the run to it.
    """
    from_command_line = bool(config.getoption("gradcam_specs"))
    if from_command_line and config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = [str(path) for path in spec_paths]
        return
    present = [Path(config.invocation_params.dir, argument.split("::")[0]).resolve() for argument in config.args]
    config.args.extend(str(path) for path in spec_paths if not any(_inside(argument, path) for argument in present))


def pytest_configure(config: pytest.Config) -> None:
    # `pytest specs/x.yaml::case` needs no --gradcam-specs: a YAML file given by name that looks like a spec is one.
    settings = read_settings(config, extra_spec_paths=explicit_spec_files(config.args, config.invocation_params.dir))
    state = install(config, settings)
    config.addinivalue_line("markers", "gradcam: a gradcam_audit spec case")
    if settings.spec_paths:
        missing = [str(path) for path in settings.spec_paths if not path.exists()]
        if missing:
            raise pytest.UsageError(f"--gradcam-specs: no such file or directory: {', '.join(missing)}")
        if not hasattr(config, "workerinput"):
            check_writable(settings)
        _route_arguments(config, settings.spec_paths)
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(ResultCollector(config, settings, state), "gradcam-result-collector")
        if settings.spec_paths and not config.option.collectonly:
            claim_outputs(config, settings)  # the last check: a run refused before it leaves the folder as it found it


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    # Before the results are written and the process exits: no batch may still be computing in the background.
    if has_run_state(session.config):
        run_state(session.config).finish_computing()
        notice = run_state(session.config).isolation_notice
        if notice is not None and not hasattr(session.config, "workerinput"):
            notice.remove()  # the controller made it; its workers are done


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SpecFile | None:
    if not has_run_state(parent.config) or not run_state(parent.config).settings.spec_paths:
        return None
    if run_state(parent.config).plan.for_path(file_path) is None:
        return None
    return SpecFile.from_parent(parent, path=file_path)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--gradcam-shard K/N keeps every N-th audit item (starting at K), so N machines split one suite."""
    if not has_run_state(config):
        return
    shard = run_state(config).settings.shard
    if shard is None:
        return
    index, count = shard
    audit_items = [item for item in items if isinstance(item, CaseItem)]
    deselected = [item for position, item in enumerate(audit_items) if position % count != index - 1]
    if deselected:
        deselected_ids = {id(item) for item in deselected}
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if id(item) not in deselected_ids]


def _isolated_specs(config: pytest.Config) -> list[Path]:
    """Spec files a restarted xdist worker must compute one case at a time (a worker crashed on them)."""
    workerinput = getattr(config, "workerinput", None) or {}
    return [(config.rootpath / path).resolve() for path in workerinput.get("gradcam_isolate", [])]


def pytest_collection_finish(session: pytest.Session) -> None:
    """The core's audit learns which entries run in this session; the rest are recorded as not run, and why."""
    if not has_run_state(session.config) or not run_state(session.config).settings.spec_paths:
        return
    state = run_state(session.config)
    rest = "other_shard" if state.settings.shard else "deselected"
    case_keys = [item.key for item in session.items if isinstance(item, CaseItem)]
    gate_keys = [item.key for item in session.items if isinstance(item, GateItem)]
    if not hasattr(session.config, "workerinput") and session.config.pluginmanager.hasplugin("dsession"):
        return  # the xdist controller collects nothing; it learns the selection from the workers' collections
    state.audit.select(case_keys, gate_keys, rest=rest, isolated=_isolated_specs(session.config))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """On the xdist controller: the first worker's collection is the session's selection."""
    config = node.config
    if not has_run_state(config) or not run_state(config).settings.spec_paths:
        return
    state = run_state(config)
    if state.selection_known:
        return
    state.selection_known = True
    keys = [state.key_for_nodeid(nodeid) for nodeid in ids]
    state.audit.select([key for key in keys if isinstance(key, tuple)], [key for key in keys if isinstance(key, str)],
                       rest="other_shard" if state.settings.shard else "deselected")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With `-n` and the default `--dist load`, keep each spec file on one worker so its cases batch there."""
    if not has_run_state(config) or not run_state(config).settings.spec_paths or config.getoption("dist") != "load":
        return None
    from gradcam_audit.plugin.xdist_scheduling import make_scheduler

    return make_scheduler(config, log, run_state(config))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """A (re)started xdist worker learns which spec files to compute one case at a time after a crash."""
    if has_run_state(node.config):
        state = run_state(node.config)
        if state.isolation_notice is None:
            state.isolation_notice = IsolationNotice.create()
        node.workerinput["gradcam_isolate"] = sorted(state.isolated_specs)
        node.workerinput[NOTICE_KEY] = str(state.isolation_notice.path)
        node.workerinput["gradcam_run_id"] = run_state(node.config).run_id  # the run's private picture folder


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    if error and has_run_state(node.config):
        run_state(node.config).last_worker_error[node.gateway.id] = str(error).strip().splitlines()[-1] if str(error).strip() else ""


@pytest.fixture
def gradcam_audit() -> Any:
    """Helpers for plain Python tests: ``gradcam_audit.assert_attention(model, image, box=..., min_lift=1.5)``."""
    from types import SimpleNamespace

    from gradcam_audit.core.engine.explain import explain
    from gradcam_audit.plugin.assertions import assert_attention

    return SimpleNamespace(assert_attention=assert_attention, explain=explain)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the item's ledger entry to its report, so it reaches the controller (also across xdist)."""
    report = yield
    if isinstance(item, CaseItem):
        entry = item.entry
        if report.when == "setup" and report.skipped:
            reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
            entry = run_state(item.config).audit.record_skipped(item.key, reason)
        if entry is not None and (report.when == "call" or (report.when == "setup" and report.skipped)):
            report.gradcam_case = to_data(entry)  # type: ignore[attr-defined]
            if report.when == "call" and entry.result is not None:
                # The case's share of its batch, not the whole batch's time on the batch's first case.
                report.duration = entry.duration_s
    elif isinstance(item, GateItem) and report.when == "call" and item.entry is not None:
        report.gradcam_gate = to_data(item.entry)  # type: ignore[attr-defined]
    if isinstance(item, (CaseItem, GateItem)) and report.when == "call":
        # Third-party warnings this process kept since its last report travel with it, each once (the run's notes).
        kept = run_state(item.config).audit.runner.batches.warnings.take_new()
        if kept:
            report.gradcam_warnings = [to_data(warning) for warning in kept]  # type: ignore[attr-defined]
    return report
