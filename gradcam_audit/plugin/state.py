"""Per-process plugin state (settings, the core's Audit, node ids), kept in config.stash."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gradcam_audit.core.audit import Audit, CaseRun
from gradcam_audit.core.plan import AuditPlan, CaseKey, plan_audit
from gradcam_audit.core.ledger.entries import CaseEntry
from gradcam_audit.core.run.runner import AuditRunner
from gradcam_audit.plugin.crash_isolation import NOTICE_KEY, IsolationNotice
from gradcam_audit.plugin.options import Settings

if TYPE_CHECKING:
    from gradcam_audit.rendering.views.sampling import CaseSample

_STATE_KEY = pytest.StashKey["RunState"]()

CASE_IMAGES_FOLDER = "cases"
# An inline report embeds its pictures; they are drawn in a folder private to the run (this prefix and the run's id)
# and removed once embedded (no second copy). A killed run's folder is removed when the next run takes the folder.
INLINE_PICTURES_PREFIX = ".gradcam-inline-pictures"


class RunState:
    """What one pytest process (controller or xdist worker) needs: the plan, the audit, and node-id lookups."""

    def __init__(self, settings: Settings, rootpath: Path, run_id: str) -> None:
        self.settings = settings
        self.rootpath = rootpath
        # The same in the controller and its xdist workers (handed over in workerinput): names the run's private files.
        self.run_id = run_id
        self.inline_pictures_folder = f"{INLINE_PICTURES_PREFIX}-{run_id}"
        # The first failure to draw a picture (a full disk): later cases skip drawing; the run's outputs say why.
        self.picture_error: str | None = None
        self._audit: Audit | None = None
        self._markers: set[str] = set()
        # (resolved spec path, item name) → case key, or the spec's gate key; for crash reports, which carry only a node id.
        self._by_name: dict[tuple[Path, str], CaseKey | str] = {}
        # xdist controller only: whether the selection is known, crashes seen, and what restarted workers isolate.
        self.selection_known = False
        self.crash_counts: dict[str, int] = {}
        self.crash_details: dict[str, str] = {}
        self.isolated_specs: set[str] = set()
        # Controller: the file it rewrites at each crash; worker: the same file, read before each case (crash_isolation.py).
        self.isolation_notice: IsolationNotice | None = None
        self.last_worker_error: dict[str, str] = {}
        self._case_sample: CaseSample | None = None

    def refresh_isolation(self, workerinput: dict[str, Any] | None) -> None:
        """On an xdist worker, before an item: compute one case at a time the specs isolated since this worker started,
        and record the cases that crashed for good elsewhere, so that no gate here computes them again."""
        if self.isolation_notice is None:
            path = (workerinput or {}).get(NOTICE_KEY)
            if not path:
                return
            self.isolation_notice = IsolationNotice(Path(path))
        notice = self.isolation_notice.changed()
        if notice is None:
            return
        if notice.specs:
            self.audit.runner.isolate([(self.rootpath / spec).resolve() for spec in notice.specs])
        for nodeid, detail in notice.crashed.items():
            key = self.key_for_nodeid(nodeid)
            if isinstance(key, tuple) and self.audit.has_case(key) and self.audit.case_entry(key) is None:
                self.audit.record_crash(key, detail)

    def finish_computing(self) -> None:
        """Wait for the runner's background batch, if an audit ran in this process."""
        if self._audit is not None:
            self._audit.runner.finish()

    @property
    def audit(self) -> Audit:
        """Planned on first use (collection), not at configure time: `pytest --help` must not read specs."""
        if self._audit is None:
            plan = plan_audit(self.settings.spec_paths, method=self.settings.method, overrides=self.settings.overrides,
                              resize_filter=self.settings.resize_filter)
            self._audit = Audit(plan, AuditRunner(batch_size=self.settings.batch_size, executor=self.settings.executor,
                                                     ray_address=self.settings.ray_address), baseline=self.settings.baseline,
                                baseline_rules=dict(self.settings.baseline_rules))
            for spec_plan in plan.specs:
                for case in spec_plan.cases:
                    self._by_name[(spec_plan.path, case.name)] = case.key
                if spec_plan.gate is not None:
                    self._by_name[(spec_plan.path, spec_plan.gate.name)] = spec_plan.gate.entry.key
        return self._audit

    @property
    def plan(self) -> AuditPlan:
        return self.audit.plan

    def key_for_nodeid(self, nodeid: str) -> CaseKey | str | None:
        """The planned entry a node id names (``specs/x.yaml::case-1``), or None when it names no audit item."""
        path_part, _, name = nodeid.partition("::")
        if not name:
            return None
        self.audit  # noqa: B018 - make sure the index is built
        return self._by_name.get(((self.rootpath / path_part).resolve(), name))

    def register_marker(self, config: pytest.Config, tag: str) -> None:
        """Spec tags become markers; registering them keeps --strict-markers and -m working."""
        if tag not in self._markers:
            self._markers.add(tag)
            config.addinivalue_line("markers", f"{tag}: gradcam spec tag")

    @property
    def case_sample(self) -> CaseSample:
        """Which cases the report shows in full; the same in every process (it depends on the plan and the keys only)."""
        if self._case_sample is None:
            from gradcam_audit.rendering.views.sampling import case_sample, sample_above_from

            try:
                sample_above = sample_above_from(os.environ)
            except ValueError as error:
                raise pytest.UsageError(str(error)) from None
            self._case_sample = case_sample(len(self.plan.cases), sample_above=sample_above)
        return self._case_sample

    @property
    def images_directory(self) -> Path | None:
        if self.settings.report is None:
            return None
        folder = self.inline_pictures_folder if self.settings.report_images == "inline" else CASE_IMAGES_FOLDER
        return self.settings.results_folder / folder

    def render_images(self, run: CaseRun) -> dict[str, str]:
        """Write the case's pictures beside the results; paths come back relative to the results' folder."""
        directory = self.images_directory
        result = run.entry.result
        if directory is None or run.image is None or result is None or self.picture_error is not None:
            return {}
        if not self.case_sample.shows(run.entry):
            return {}  # a pass the huge run's report will not show: drawing it would only cost time and disk
        from gradcam_audit.rendering.pictures.overlay import render_case_images

        try:
            written = render_case_images(result, run.image, run.heatmap, directory, self.settings.overlay_style, removed=run.removed)
        except OSError as error:
            if error.errno is None:
                raise  # not a failed write (PIL's own errors carry no errno): a bug to see, not to skip
            # A full disk or a lost folder: the case's verdict stands without its picture; the outputs say what failed.
            self.picture_error = f"{error.strerror or error} in {directory}"
            return {}
        base = self.settings.results_folder
        return {kind: Path(os.path.relpath(path, base)).as_posix() for kind, path in written.items()}

    def overlay_display_path(self, entry: CaseEntry) -> str | None:
        if "overlay" not in entry.images:
            return None
        if self.settings.report_images == "inline" and self.settings.report is not None:
            return f"in the report, {os.path.relpath(self.settings.report)} (embedded)"
        return os.path.relpath(self.settings.results_folder / entry.images["overlay"])


def install(config: pytest.Config, settings: Settings) -> RunState:
    workerinput = getattr(config, "workerinput", None)
    run_id = str(workerinput.get("gradcam_run_id", "")) if workerinput else ""
    state = RunState(settings, config.rootpath, run_id or f"{os.getpid()}-{secrets.token_hex(4)}")
    config.stash[_STATE_KEY] = state
    return state


def run_state(config: pytest.Config) -> RunState:
    return config.stash[_STATE_KEY]


def has_run_state(config: pytest.Config) -> bool:
    return _STATE_KEY in config.stash
