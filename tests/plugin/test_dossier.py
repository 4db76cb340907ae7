"""The dossier an auditor files: a PDF (printed by real headless Chromium) naming the verdict, each suite and the
model's SHA-256, with its manifest beside the results whose hashes match the files and whose own hash verifies."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gradcam_audit.core.ledger.manifest import build_manifest, manifest_hash_holds
from gradcam_audit.rendering.html.dossier import DossierEngineMissing, build_dossier_view, find_chromium, render_dossier_html
from tests.plugin.conftest import HONEST_MODEL, SHORTCUT_MODEL, shipped_cases
from tests.report.synthetic import HOSTILE, fixed_results, hostile_results
from gradcam_audit.core.records.codec import to_data

REPOSITORY = Path(__file__).resolve().parents[2]


def _pdf_text(path: Path) -> str:
    """The PDF's text as poppler's pdftotext extracts it (poppler-utils; .ci/run installs it)."""
    assert shutil.which("pdftotext"), "pdftotext is missing: apt-get install -y poppler-utils"
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def _pdf_images(path: Path) -> int:
    listing = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    return len(listing.strip().splitlines()) - 2  # two header lines


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_manifest(manifest: dict[str, Any], working_folder: Path) -> None:
    """Every hash in the manifest is the file's, recomputed here; its own hash is that of its canonical JSON."""
    for entry in manifest["files"]:
        location = Path(entry["path"]) if os.path.isabs(entry["path"]) else working_folder / entry["path"]
        assert entry["sha256"] == _sha256(location) and entry["size_bytes"] == location.stat().st_size, entry
    body = {key: value for key, value in manifest.items() if key != "manifest_sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert manifest["manifest_sha256"] == hashlib.sha256(canonical).hexdigest()
    assert manifest_hash_holds(manifest)
    assert not manifest_hash_holds({**manifest, "verdict": "passed" if manifest["verdict"] != "passed" else "failed"})


def test_pytest_and_the_report_command_write_a_dossier_and_a_manifest_that_verify(
        pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("honest.yaml", count=2, gate={"min_pass_rate": 0.5})
    tag_must_be_clean = [{**case, "regions": [{**region, "max_mass": 0.01} if region["name"] == "corner-tag" else region
                                              for region in case["regions"]]} for case in shipped_cases(2)]
    write_spec("shortcut.yaml", cases=tag_must_be_clean, model=str(SHORTCUT_MODEL), xfail="reads the corner tag")
    result = pytester.runpytest("--gradcam-specs", "honest.yaml", "--gradcam-specs", "shortcut.yaml", "--gradcam-dossier", "out/dossier.pdf",
                                "--gradcam-report", "out/index.html", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, xfailed=2)  # 2 cases and the gate; 2 expected failures
    result.stdout.fnmatch_lines(["*dossier out/dossier.pdf, manifest out/manifest.json*"])
    manifest = json.loads((pytester.path / "out" / "manifest.json").read_text(encoding="utf-8"))
    _check_manifest(manifest, pytester.path)
    roles = {entry["role"] for entry in manifest["files"]}
    assert roles == {"results", "model", "spec", "image"} and len([e for e in manifest["files"] if e["role"] == "image"]) == 2
    assert set(manifest["versions"]) >= {"gradcam_audit", "python", "tensorflow", "keras", "numpy"}
    assert "not recorded" not in manifest["versions"].values() and manifest["command"].startswith("pytest ")
    assert not any(path.name.endswith(".partial") for path in (pytester.path / "out").iterdir())

    text = _pdf_text(pytester.path / "out" / "dossier.pdf")
    flat = "".join(text.split())
    assert "Verdict: PASSED" in text and "honest.yaml" in text and "shortcut.yaml" in text
    assert _sha256(HONEST_MODEL) in flat and _sha256(SHORTCUT_MODEL) in flat and manifest["manifest_sha256"] in flat
    assert "EXPECTED FAILURE" in text and "reads the corner tag" in text
    assert _pdf_images(pytester.path / "out" / "dossier.pdf") >= 2  # the expected failures' pictures, drawn from their heatmaps

    # The CLI's dossier of the same results, from the folder the audit ran in: its manifest beside the PDF.
    completed = subprocess.run([sys.executable, "-m", "gradcam_audit.cli.main", "report", "out/results.json", "-o", "filed/audit.pdf"],
                               capture_output=True, text=True, cwd=pytester.path, env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
                               timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    filed = json.loads((pytester.path / "filed" / "manifest.json").read_text(encoding="utf-8"))
    _check_manifest(filed, pytester.path)
    assert filed["files"][0] == {**manifest["files"][0], "path": "out/results.json"}
    assert filed["manifest_sha256"] in completed.stdout and filed["manifest_sha256"] in "".join(_pdf_text(pytester.path / "filed" / "audit.pdf").split())


def test_the_manifest_names_files_that_are_gone_or_changed_since_the_audit(tmp_path: Path) -> None:
    results = fixed_results()  # names models/pets.keras (recorded hash "abab…"), specs/*.yaml and images/*.jpg
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "pets.keras").write_bytes(b"a different model")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "pets.yaml").write_text("cases: []\n", encoding="utf-8")
    manifest = build_manifest(results, [], tmp_path)
    model = manifest.files_of("model")[0]
    assert model.sha256 == hashlib.sha256(b"a different model").hexdigest() and model.matches_run is False
    wild = next(entry for entry in manifest.files_of("spec") if entry.path == "specs/wild.yaml")
    assert wild.sha256 is None and "not found" in wild.note
    assert manifest.files_of("image") and all(entry.sha256 is None for entry in manifest.files_of("image"))
    assert manifest_hash_holds(to_data(manifest))
    view = build_dossier_view(results, manifest, images_base=tmp_path, working_folder=tmp_path)
    html = render_dossier_html(view)
    assert "changed since the audit" in html and "no hash: not found here" in html


def test_the_dossier_html_is_self_contained_and_escapes_what_a_spec_controls(tmp_path: Path) -> None:
    results = hostile_results()
    manifest = build_manifest(results, [], tmp_path)
    html = render_dossier_html(build_dossier_view(results, manifest, images_base=tmp_path, working_folder=tmp_path))
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert HOSTILE not in html
    assert "default-src 'none'; img-src data:" in html
    assert "http://" not in html and "https://" not in html and "<link" not in html


def test_no_pdf_engine_is_a_clear_error_naming_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    monkeypatch.delenv("GRADCAM_CHROMIUM", raising=False)
    with pytest.raises(DossierEngineMissing, match="apt-get install chromium"):
        find_chromium()
    monkeypatch.setenv("GRADCAM_CHROMIUM", str(tmp_path / "no-such-chrome"))
    with pytest.raises(DossierEngineMissing, match="GRADCAM_CHROMIUM"):
        find_chromium()
    monkeypatch.delenv("GRADCAM_CHROMIUM")
    results = tmp_path / "results.json"
    results.write_text(json.dumps(to_data(fixed_results())), encoding="utf-8")
    completed = subprocess.run([sys.executable, "-m", "gradcam_audit.cli.main", "report", str(results), "-o", str(tmp_path / "d.pdf")],
                               capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPOSITORY)}, timeout=120, check=False)
    assert completed.returncode != 0 and "Traceback" not in completed.stderr
    assert "needs headless Chromium" in completed.stderr and not (tmp_path / "d.pdf").exists() and not (tmp_path / "manifest.json").exists()


def test_the_dossier_option_refuses_a_name_that_is_not_a_pdf(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec("suite.yaml", count=1)
    result = pytester.runpytest("--gradcam-specs", "suite.yaml", "--gradcam-dossier", "out/dossier.html", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--gradcam-dossier 'out/dossier.html': give a .pdf file name*"])


# Under xdist the controller writes the dossier once (set by its ini twin): test_under_xdist.py, in a shared run.
