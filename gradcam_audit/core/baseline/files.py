"""Reading a baseline: the released model's results files (schema 2, or schema 1 converted), its cases by
(spec, id, method), and a case's baseline case found even when spec paths were written from another folder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradcam_audit.core.baseline.rules import BaselineError
from gradcam_audit.core.ledger.entries import CaseEntry
from gradcam_audit.core.ledger.results_file import read_results
from gradcam_audit.core.ledger.run_results import SCHEMA_VERSION, RunResults, results_from_data
from gradcam_audit.core.records.results import read_json_file
from gradcam_audit.errors import ResultsError

CaseKey = tuple[str, str, str]
# The schemas a baseline may be written in: 2 is read as is, 1 is converted (it has no heatmaps).
READABLE_SCHEMAS = (1, SCHEMA_VERSION)


@dataclass(frozen=True)
class Baseline:
    """The released model's audit: its cases by (spec, id, method), from one or several results files."""

    sources: tuple[str, ...]
    folders: tuple[Path, ...]
    schemas: tuple[int, ...]
    cases: dict[CaseKey, tuple[CaseEntry, int]]  # key → (entry, index of the file it came from)
    notes: tuple[str, ...] = ()

    def find(self, key: CaseKey) -> tuple[CaseEntry, int] | None:
        """The baseline case of ``key``. Spec paths are written relative to where each run started, so when the
        path differs exactly, the one baseline case whose spec path ends with the same components is taken."""
        found = self.cases.get(key)
        if found is not None:
            return found
        spec, case_id, method = key
        wanted = _path_tail(spec)
        candidates = [entry for (other, other_id, other_method), entry in self.cases.items()
                      if other_id == case_id and other_method == method and _same_tail(_path_tail(other), wanted)]
        return candidates[0] if len(candidates) == 1 else None


def _path_tail(spec: str) -> tuple[str, ...]:
    """A displayed spec path's components without the leading ``..`` / ``.`` (``../specs/x.yaml`` → ``specs, x.yaml``)."""
    parts = [part for part in spec.replace("\\", "/").split("/") if part not in ("", ".")]
    while parts and parts[0] == "..":
        parts.pop(0)
    return tuple(parts)


def _same_tail(first: tuple[str, ...], second: tuple[str, ...]) -> bool:
    shorter = min(len(first), len(second))
    return shorter > 0 and first[-shorter:] == second[-shorter:]


def baseline_files(paths: Sequence[Path]) -> list[Path]:
    """The results files named: files as given, a folder's ``*.json`` files (sorted).

    Raises:
        BaselineError: a path that does not exist, or a folder without results files.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(item for item in path.glob("*.json") if item.is_file())
            if not found:
                raise BaselineError(f"baseline folder {path} holds no results file (*.json); give the released model's results.json")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise BaselineError(f"baseline not found: {path} (give the released model's results.json, its shard JSONs, or their folder)")
    if not files:
        raise BaselineError("no baseline results file given")
    return list(dict.fromkeys(files))


def _schema_1_case(data: Any) -> dict[str, Any]:
    """A schema-1 case (flat: status, regions and model beside each other) in schema 2's form, without heatmap."""
    if not isinstance(data, dict):
        raise ResultsError(f"a case is {type(data).__name__}, not an object")
    status = data.get("status")
    verdict = {"passed": "passed", "xpassed": "passed", "failed": "failed", "xfailed": "failed", "error": "error"}.get(str(status))
    regions = [{"name": region["name"], "role": region["role"], "mass": region["mass"], "lift": region["lift"],
                "area_share": region.get("area_share", 0.0), "unseen_share": region.get("unseen_share", 0.0), "checks": []}
               for region in data.get("regions", [])]
    # Keys schema 1 left out (or wrote as null) take schema 2's defaults; the codec then checks every value's type.
    result = None if verdict is None else {
        key: data[key] for key in ("spec", "id", "method", "reason", "layer", "layer_reason", "score_kind", "predicted", "target",
                                   "expect_class", "degenerate", "image", "image_size", "model", "model_sha256", "preprocess", "resize")
        if data.get(key) is not None
    } | {"verdict": verdict, "regions": regions, "checks": []}
    return {"spec": data["spec"], "id": data["id"], "method": data["method"], "status": status,
            "reason": data.get("reason", ""), "xfail": data.get("xfail"), "tags": data.get("tags", []), "result": result,
            "images": data.get("images", {}), "nodeid": data.get("nodeid")}


def _upgrade_schema_1(data: dict[str, Any], source: str) -> RunResults:
    try:
        upgraded = {"schema": SCHEMA_VERSION, "started": data.get("started", ""), "command": data.get("command", ""),
                    "versions": data.get("versions", {}), "cases": [_schema_1_case(case) for case in data["cases"]], "gates": []}
    except (KeyError, TypeError, AttributeError) as error:
        raise ResultsError(f"{source}: a schema-1 case lacks a field ({type(error).__name__}: {str(error)[:120]}); "
                           "re-run the released model's audit with this version to write a schema-2 baseline") from None
    return results_from_data(upgraded, source)


def read_baseline_file(path: Path, reader: Callable[[Path], RunResults] = read_results) -> tuple[RunResults, int]:
    """One baseline file and the schema it was written in. Schema 2 goes through ``reader`` (field-checked in the
    CLI and the plugin); schema 1 is converted; any other schema is refused naming both numbers."""
    data = read_json_file(path)
    schema = data.get("schema") if isinstance(data, dict) else None
    if isinstance(schema, bool) or isinstance(schema, float):  # JSON true is not schema 1, 2.0 is not schema 2
        raise BaselineError(f"baseline {path}: schema: expected an integer (this version writes {SCHEMA_VERSION}), got "
                            f"{str(schema).lower() if isinstance(schema, bool) else schema!r}: give the released model's results.json, unedited")
    if schema == SCHEMA_VERSION:
        return reader(path), SCHEMA_VERSION
    if schema == 1 and isinstance(data, dict) and isinstance(data.get("cases"), list):
        return _upgrade_schema_1(data, str(path)), 1
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA_VERSION:
        raise BaselineError(f"baseline {path} was written with results schema {schema}, by a newer gradcam_audit; this version reads "
                            f"schemas {' and '.join(map(str, READABLE_SCHEMAS))}: upgrade gradcam_audit to compare with it")
    if not isinstance(data, dict) or "cases" not in data:
        raise BaselineError(f"baseline {path} is not a gradcam_audit results file (no 'cases'); give the released model's results.json")
    raise BaselineError(f"baseline {path} has results schema {schema!r}; this version reads schemas "
                        f"{' and '.join(map(str, READABLE_SCHEMAS))}: re-run the released model's audit to write a schema-{SCHEMA_VERSION} baseline")


def load_baseline(paths: Sequence[Path], reader: Callable[[Path], RunResults] = read_results) -> Baseline:
    """The baseline from results files, shard files or folders of them; a case that ran in several keeps the first.

    Raises:
        BaselineError / ResultsError: a path missing, a file malformed (the message names the file and field).
    """
    from gradcam_audit.core.spec.load import display_path

    files = baseline_files(paths)
    cases: dict[CaseKey, tuple[CaseEntry, int]] = {}
    schemas: list[int] = []
    notes: list[str] = []
    for index, path in enumerate(files):
        run, schema = read_baseline_file(path, reader)
        schemas.append(schema)
        if schema != SCHEMA_VERSION:
            notes.append(f"baseline {display_path(path)} was written with results schema {schema} and read as schema {SCHEMA_VERSION}: "
                         "it holds no heatmaps, so heatmap similarity cannot be measured against it")
        for entry in run.cases:
            kept = cases.get(entry.key)
            if kept is None or (kept[0].result is None and entry.result is not None):
                cases[entry.key] = (entry, index)
    return Baseline(tuple(display_path(path) for path in files), tuple(path.resolve().parent for path in files), tuple(schemas),
                    cases, tuple(notes))
