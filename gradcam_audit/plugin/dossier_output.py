"""--gradcam-dossier at the end of a run: manifest.json beside the results, then the PDF dossier (both from the core
and the renderer; nothing is decided here)."""

from __future__ import annotations

import os
from pathlib import Path

from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.errors import GradcamAuditError
from gradcam_audit.plugin.options import Settings


def write_dossier_outputs(results: RunResults, settings: Settings) -> str:
    """Write manifest.json (beside results.json, already written) and the dossier; returns what to say in the summary.

    Paths in the results are relative to the folder pytest ran in (the working folder), as the run wrote them. A
    dossier that cannot be printed is said in the summary line; the results and the report are already written.
    """
    from gradcam_audit.core.ledger.manifest import MANIFEST_FILE_NAME, build_manifest, write_manifest
    from gradcam_audit.rendering.html.dossier import write_dossier

    if settings.dossier is None:
        return ""
    working_folder = Path.cwd()
    manifest = build_manifest(results, [settings.json_path], working_folder)
    manifest_path = write_manifest(manifest, settings.results_folder / MANIFEST_FILE_NAME)
    try:
        write_dossier(results, manifest, settings.dossier, images_base=settings.results_folder, working_folder=working_folder)
    except GradcamAuditError as error:
        return f"manifest {os.path.relpath(manifest_path)}; dossier NOT written: {error}"
    return f"dossier {os.path.relpath(settings.dossier)}, manifest {os.path.relpath(manifest_path)}"
