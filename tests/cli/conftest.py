"""Helpers for the CLI tests: run the console script as a user would, write real images and exports."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).parent / "gradcam-audit"


def run_cli(*arguments: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `gradcam-audit ARGS` through its entry function (what the console script calls) in this process, with
    what it prints captured.

    In this process because a subprocess would spend seconds starting Python, and TensorFlow for several commands,
    which this process has already done. What only a fresh process shows (no TensorFlow start-up lines, usage
    errors answered before TensorFlow is imported, the console script itself) is tested through run_cli_subprocess.
    """
    from gradcam_audit.cli.main import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd or Path.cwd()), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            status = main([str(argument) for argument in arguments])
        except SystemExit as exit_request:  # argparse's usage errors
            status = exit_request.code if isinstance(exit_request.code, int) else 2
    return subprocess.CompletedProcess(["gradcam-audit", *map(str, arguments)], status, stdout.getvalue(), stderr.getvalue())


def run_cli_subprocess(*arguments: str | Path, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `gradcam-audit ARGS` in a subprocess (the installed console script, else `python -m`)."""
    command = [str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists() else [sys.executable, "-m", "gradcam_audit.cli.main"]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [*command, *map(str, arguments)], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )


def write_image(path: Path, size: tuple[int, int], colour: tuple[int, int, int] = (120, 90, 60)) -> Path:
    """A real image file (PNG or JPEG by suffix) of ``size`` = (width, height)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def assert_clean_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """A user mistake: non-zero exit, a message naming what is wrong, never a traceback."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in:\n{output}"


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """A placeholder model file: importing and validating a spec checks the model exists, never loads it."""
    path = tmp_path / "models" / "model.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"placeholder")
    return path


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli
