"""gradcam_audit: prove in CI that an image model looks where it should (Grad-CAM audits as pytest tests).

The public API is imported lazily so that `pytest --help` and spec validation never load TensorFlow.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "explain": "gradcam_audit.core.engine.explain",
    "Explanation": "gradcam_audit.core.engine.explain",
    "load_spec": "gradcam_audit.core.spec.load",
    "parse_spec": "gradcam_audit.core.spec.load",
    "validate_paths": "gradcam_audit.core.validate",
    "assert_attention": "gradcam_audit.plugin.assertions",
    "read_results": "gradcam_audit.core.ledger.results_file",
    "run_audit": "gradcam_audit.core.audit",
    "plan_audit": "gradcam_audit.core.plan",
    "GradcamAuditError": "gradcam_audit.errors",
    "SpecError": "gradcam_audit.errors",
    "ModelError": "gradcam_audit.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'gradcam_audit' has no attribute {name!r}")
