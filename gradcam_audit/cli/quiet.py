"""Quiet start-up: TensorFlow's C++ start-up lines ("failed call to cuInit", "cudart_stub") kept off the screen.

Those lines are written straight to file descriptor 2 while TensorFlow is imported, before any Python logging
exists, and no environment variable silences all of them; a newcomer reads them as failures. So the CLI
imports TensorFlow once with descriptor 2 pointed at a temporary file, and shows that file only if the import
itself fails. `--verbose` keeps everything.
"""

from __future__ import annotations

import os
import sys
import tempfile


def silence_tensorflow() -> None:
    """Import TensorFlow now, quietly, and keep its later C++ logging to errors that matter (level 3)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except Exception:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
