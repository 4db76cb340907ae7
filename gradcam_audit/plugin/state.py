"""Per-process plugin state (runner, settings, verdicts), kept in config.stash."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gradcam_audit.core.results import CaseResult
from gradcam_audit.core.runner import AuditRunner, CaseJob
from gradcam_audit.plugin.options import Settings

_STATE_KEY = pytest.StashKey["RunState"]()

CASE_IMAGES_FOLDER = "cases"


class RunState:
    """What one pytest process (controller or xdist worker) needs while running cases."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runner = AuditRunner(batch_size=settings.batch_size)
        self._verdicts: dict[tuple[str, str, str], CaseResult] = {}
        self._markers: set[str] = set()

    def register_marker(self, config: pytest.Config, tag: str) -> None:
        """Spec tags become markers; registering them keeps --strict-markers and -m working."""
        if tag not in self._markers:
            self._markers.add(tag)
            config.addinivalue_line("markers", f"{tag}: gradcam spec tag")

    def record_verdict(self, job: CaseJob, result: CaseResult) -> None:
        self._verdicts[job.key] = result

    def verdict_for(self, job: CaseJob) -> CaseResult:
        """A case's result for a gate: from this process if it ran here, else computed now."""
        if job.key not in self._verdicts:
            self._verdicts[job.key] = self.runner.run(job).result
        return self._verdicts[job.key]

    @property
    def images_directory(self) -> Path | None:
        return None if self.settings.report is None else self.settings.report.parent / CASE_IMAGES_FOLDER

    def render_images(self, result: CaseResult, image: np.ndarray | None, heatmap: np.ndarray | None) -> dict[str, str]:
        """Write the case's pictures beside the report; paths come back relative to the report's folder."""
        directory = self.images_directory
        if directory is None or image is None or self.settings.report is None:
            return {}
        from gradcam_audit.rendering.overlay import render_case_images

        written = render_case_images(result, image, heatmap, directory, self.settings.overlay_style)
        base = self.settings.report.parent
        return {kind: os.path.relpath(path, base) for kind, path in written.items()}

    def overlay_display_path(self, images: dict[str, str]) -> str | None:
        if self.settings.report is None or "overlay" not in images:
            return None
        return os.path.relpath(self.settings.report.parent / images["overlay"])


def install(config: pytest.Config, settings: Settings) -> RunState:
    state = RunState(settings)
    config.stash[_STATE_KEY] = state
    return state


def run_state(config: pytest.Config) -> RunState:
    return config.stash[_STATE_KEY]


def has_run_state(config: pytest.Config) -> bool:
    return _STATE_KEY in config.stash
