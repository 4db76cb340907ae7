"""Test-suite set-up shared by every test folder."""

# pytester's in-process runs restore sys.modules afterwards; TensorFlow cannot be imported twice in one
# process (the second import aborts), so it is imported here, before any pytester snapshot is taken.
import keras  # noqa: F401
import tensorflow  # noqa: F401
