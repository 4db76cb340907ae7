"""`gradcam-audit report` reads case pictures only from inside each results JSON's folder, whatever the JSON says."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gradcam_audit.core.ledger.run_results import SCHEMA_VERSION

from tests.hostile.conftest import Outcome, assert_message, write_png

SECRET = b"root:x:0:0:secret-marker:/root:/bin/bash\n"


def results_json(folder: Path, images: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    case = {"spec": "specs/pets.yaml", "id": "cat-0001", "method": "gradcam", "status": "passed", "images": images}
    path = folder / "results.json"
    path.write_text(json.dumps({"schema": SCHEMA_VERSION, "cases": [case]}), encoding="utf-8")
    return path


def hostile_name(kind: str, tmp_path: Path, run: Path) -> str:
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_bytes(SECRET)
    if kind == "absolute":
        return str(secret)
    if kind == "dotdot":
        return "../outside/secret.png"
    if kind == "dotdot_inside":
        return "case_images/../../outside/secret.png"
    if kind == "symlink_file":
        (run / "link.png").symlink_to(secret)
        return "link.png"
    if kind == "symlink_folder":
        (run / "linked").symlink_to(secret.parent, target_is_directory=True)
        return "linked/secret.png"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "dotdot_inside", "symlink_file", "symlink_folder"])
@pytest.mark.parametrize("mode", ["inline", "files"])
def test_report_never_reads_a_picture_outside_the_results_folder(cli, tmp_path: Path, kind: str, mode: str) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "run"
    run.mkdir()
    write_png(run / "case_images" / "good.png", (8, 8))
    name = hostile_name(kind, tmp_path, run)
    path = results_json(run, {"overlay": name, "regions": "case_images/good.png"})
    out = tmp_path / "report" / "index.html"
    outcome: Outcome = cli("report", path, "-o", out, "--images", mode)
    assert_message(outcome, "images.overlay", "skipped", exit_codes=(0,))  # the report still renders, with a warning
    html = out.read_text(encoding="utf-8")
    assert base64.b64encode(SECRET).decode("ascii")[:24] not in html
    assert "secret.png" not in html and "secret-marker" not in html
    assert ("data:image/png;base64," in html) if mode == "inline" else ("good.png" in html)  # the allowed picture stays


def test_report_skips_a_folder_named_as_a_picture(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "run"
    (run / "case_images" / "a_folder.png").mkdir(parents=True)
    path = results_json(run, {"overlay": "case_images/a_folder.png"})
    outcome = cli("report", path, "-o", tmp_path / "index.html")
    assert_message(outcome, "images.overlay", "not a regular file", exit_codes=(0,))


def test_confinement_is_one_function_used_by_the_html_writer(tmp_path: Path) -> None:
    from gradcam_audit.errors import UnsafePathError
    from gradcam_audit.rendering.html.html_report import confined_picture

    write_png(tmp_path / "inside.png", (4, 4))
    assert confined_picture(tmp_path, "inside.png") == (tmp_path / "inside.png").resolve()
    assert confined_picture(tmp_path, "missing.png") is None
    for name in ("/etc/passwd", "../x.png", "C:\\\\Windows\\\\win.ini", "", "a\x00b.png"):
        with pytest.raises(UnsafePathError):
            confined_picture(tmp_path, name)
