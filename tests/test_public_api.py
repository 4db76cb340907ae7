"""The package's front door: a small lazy public API, and a plugin that does not load TensorFlow until it must."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_public_names_resolve() -> None:
    import gradcam_audit

    for name in gradcam_audit.__all__:
        assert getattr(gradcam_audit, name) is not None, name


def test_plugin_import_and_pytest_help_do_not_import_tensorflow(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import gradcam_audit, gradcam_audit.plugin.pytest_plugin\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    # Outside the repository: its tests/conftest.py (loaded from here even for --help) imports TensorFlow on purpose.
    help_run = subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert "--gradcam-specs" in help_run.stdout
    assert "--gradcam-overlay-colormap" in help_run.stdout
