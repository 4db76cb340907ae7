"""Quiet start-up: TensorFlow's C++ start-up lines ("cudart_stub", "failed call to cuInit") kept off the screen.

Those lines are written straight to file descriptor 2 while TensorFlow is imported and when it first looks for
devices, before any Python logging exists, and no environment variable silences all of them (E0000 cuInit shows
at TF_CPP_MIN_LOG_LEVEL=2); a newcomer reads them as failures. So every CLI command that uses TensorFlow calls
``silence_tensorflow`` before its first TensorFlow import: it imports TensorFlow and lists the devices once with
descriptor 2 pointed at a temporary file, and shows that file only if that fails. `--verbose` keeps everything.
"""

from __future__ import annotations

import os
import sys
import tempfile


def silence_tensorflow() -> None:
    """Import TensorFlow and initialise its devices now, quietly; keep its later C++ logging to errors that matter."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow

            # The device search (cuInit on a machine with CUDA libraries and no GPU) logs an E0000 line at the first
            # operation, after the import: done here, it lands in the temporary file too.
            tensorflow.config.list_physical_devices()
        except Exception:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
