"""Wording of failures: any exception raised while computing a case (or a streamed run) as a one-line reason."""

from __future__ import annotations

import traceback
from pathlib import Path

from gradcam_audit.core.run.models import describe_user_error
from gradcam_audit.errors import GradcamAuditError


def _first_line(error: BaseException) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), "")


def _raised_in_user_code(error: BaseException) -> bool:
    """Whether the deepest frame is the user's own code (a custom preprocess or loader), not ours or a library's."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return False
    filename = frames[-1].filename
    return "gradcam_audit" not in Path(filename).parts and "site-packages" not in filename and not filename.startswith("<")


def failure_message(error: BaseException) -> str:
    """Any failure while computing a case, in one line: ours verbatim, a user function's with its file:line,
    a TensorFlow/NumPy one with what to check."""
    if isinstance(error, GradcamAuditError):
        return str(error)
    if isinstance(error, MemoryError):
        return ("out of memory while computing this case (the image or the batch is too large for this machine); "
                "lower --gradcam-batch-size or use a smaller image")
    if _raised_in_user_code(error):
        return f"your function raised {describe_user_error(error)}"
    return (
        f"the model could not be run on this case ({type(error).__name__}: {_first_line(error)[:300]}); check that "
        "`preprocess`, `resize` and the image's channels match what the model expects"
    )


def crash_reason(what: str, detail: str) -> str:
    """Why an item whose process died twice (the crash, then its retry alone) ended as an error: ``what`` it was doing
    ("computing this case", "judging this gate"), ``detail`` which worker died and how."""
    return (f"the test process crashed while {what} ({detail}); it was retried once, alone, and crashed again: look for "
            "what kills the process (out of memory, a native crash, a signal sent by your own code)")


def stream_failure(error: BaseException) -> str:
    """Why a streamed run stopped, as the reason of every case it did not bring back."""
    if isinstance(error, GradcamAuditError):  # ours says what to do (e.g. start the cluster, check the address)
        return f"the Ray executor failed: {error}"
    return f"the Ray executor failed: {type(error).__name__}: {_first_line(error)[:300]}"
