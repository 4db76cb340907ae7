"""What exactly was audited: versions, date, command and the SHA-256 of every model, spec, image and results file,
with the manifest's own hash, for the dossier (rendering/html/dossier.py) and manifest.json beside the results."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.files.hashing import file_sha256
from gradcam_audit.core.records.codec import JsonForm, to_data
from gradcam_audit.core.records.results import dumps_strict

MANIFEST_SCHEMA = 1
MANIFEST_FILE_NAME = "manifest.json"
# The versions an auditor needs, always present ("not recorded" when the run did not record one).
REQUIRED_VERSIONS = ("gradcam_audit", "python", "tensorflow", "keras", "numpy")
FILE_ROLES = ("results", "model", "spec", "image")


@dataclass(frozen=True)
class ManifestFile:
    """One file the audit depended on.

    Attributes:
        role: "results", "model", "spec" or "image".
        path: the path as the results recorded it (relative to the folder the run ran in), or the results file's.
        sha256: the file's SHA-256 now (None when it is not a readable regular file here: see ``note``).
        size_bytes: its size now (None with no hash).
        recorded_sha256: the hash the run recorded (models only), and ``matches_run``: whether it equals ``sha256``
            (None when either is unknown): False means the file changed since the audit.
        note: why there is no hash, in words ("" when there is one).
    """

    role: str
    path: str
    sha256: str | None
    size_bytes: int | None
    recorded_sha256: str | None = None
    matches_run: bool | None = None
    note: str = ""


@dataclass(frozen=True)
class Manifest:
    """The manifest of one audit (or of merged shards); ``sha256`` is the hash of its canonical JSON without that key
    (``canonical_bytes``), so anyone can verify it with any SHA-256 tool."""

    created: str
    started: str
    command: str
    verdict: str
    versions: dict[str, str]
    written_by: dict[str, str]
    files: tuple[ManifestFile, ...]
    sha256: str = ""

    # The format's number first and the hash last, under names that say whose they are in the file.
    JSON_FORM: ClassVar[JsonForm] = JsonForm(
        keys=("manifest_schema", "created", "started", "command", "verdict", "versions", "written_by", "files", "manifest_sha256"),
        renamed={"sha256": "manifest_sha256"}, constants={"manifest_schema": MANIFEST_SCHEMA})

    def files_of(self, role: str) -> tuple[ManifestFile, ...]:
        return tuple(entry for entry in self.files if entry.role == role)


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """The bytes the manifest's hash is taken over: the document without ``manifest_sha256``, as JSON with sorted keys,
    no spaces (separators "," and ":"), UTF-8, non-ASCII kept as is."""
    body = {key: value for key, value in document.items() if key != "manifest_sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def manifest_hash_holds(document: dict[str, Any]) -> bool:
    """Whether a manifest document's ``manifest_sha256`` is the hash of the rest of it."""
    return bool(document.get("manifest_sha256")) and hashlib.sha256(canonical_bytes(document)).hexdigest() == document["manifest_sha256"]


def _hashed(role: str, recorded_path: str, location: Path, recorded_sha256: str | None = None) -> ManifestFile:
    """The file at ``location`` hashed by streaming (a model of gigabytes is never held in memory)."""
    try:
        digest = file_sha256(location)  # None unless a regular file (never blocks on a pipe or a device)
        size = location.stat().st_size if digest is not None else None
    except OSError as error:
        digest, size = None, None
        note = f"cannot be read here ({error.strerror or error})"
    else:
        note = "" if digest is not None else (f"not a regular file here ({location})" if location.exists() else f"not found here ({location})")
    matches = None if digest is None or recorded_sha256 is None else digest == recorded_sha256
    return ManifestFile(role, recorded_path, digest, size, recorded_sha256, matches, note)


def _model_files(recorded_path: str, location: Path, recorded_sha256: str | None) -> list[ManifestFile]:
    """A model file, or every file of a model folder (a SavedModel), each with its hash."""
    if location.is_dir():
        inside = sorted(path for path in location.rglob("*") if path.is_file())
        return [_hashed("model", f"{recorded_path}/{path.relative_to(location).as_posix()}", path) for path in inside]
    return [_hashed("model", recorded_path, location, recorded_sha256)]


def _versions(recorded: dict[str, str]) -> dict[str, str]:
    return {**{name: recorded.get(name, "not recorded") for name in REQUIRED_VERSIONS},
            **{name: value for name, value in sorted(recorded.items()) if name not in REQUIRED_VERSIONS}}


def _writer() -> dict[str, str]:
    from importlib import metadata

    try:
        version = metadata.version("gradcam_audit")
    except metadata.PackageNotFoundError:
        version = "not installed"
    return {"gradcam_audit": version, "python": sys.version.split()[0]}


def build_manifest(results: RunResults, results_files: list[Path], working_folder: Path, *, created: datetime | None = None) -> Manifest:
    """The manifest of ``results``: the results files, then every model, spec and image the cases name, each hashed now.

    Paths in results files are relative to the folder the run ran in: ``working_folder`` (absolute paths stay as they
    are). A file that is not there any more is listed with no hash and a note, never skipped.
    """
    def where(recorded: str) -> Path:
        return Path(recorded) if os.path.isabs(recorded) else working_folder / recorded

    files = [_hashed("results", str(path), path) for path in results_files]
    models: dict[str, str | None] = {}
    specs: dict[str, None] = {}
    images: dict[str, None] = {}
    for entry in results.entries:
        specs.setdefault(entry.spec, None)
    for case in results.cases:
        if case.result is None:
            continue
        if case.result.model and models.get(case.result.model) is None:
            models[case.result.model] = case.result.model_sha256
        if case.result.image:
            images.setdefault(case.result.image, None)
    for model, recorded in models.items():
        if "\x00" in model:  # a crafted results file: no path the OS can open
            continue
        files.extend(_model_files(model, where(model), recorded))
    files.extend(_hashed("spec", spec, where(spec)) for spec in specs if "\x00" not in spec)
    files.extend(_hashed("image", image, where(image)) for image in sorted(images) if "\x00" not in image)
    manifest = Manifest(
        created=(created or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        started=results.started,
        command=results.command,
        verdict=results.verdict,
        versions=_versions(results.versions),
        written_by=_writer(),
        files=tuple(files),
    )
    return replace(manifest, sha256=hashlib.sha256(canonical_bytes(to_data(manifest))).hexdigest())


def write_manifest(manifest: Manifest, path: Path) -> Path:
    """manifest.json, strict JSON, written beside and renamed (fsync first), so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        handle.write(dumps_strict(to_data(manifest)) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    return path
