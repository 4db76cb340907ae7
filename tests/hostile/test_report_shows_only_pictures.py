"""Only pictures reach a report: a secret inside a results (or baseline) folder never does, through any entry point.

`gradcam-audit report`, `gradcam-audit compare` and `pytest --gradcam-baseline` all read pictures through one door
(rendering/pictures/picture_door.py): inside the folder, a PNG/JPEG/WebP/GIF by its content, decoded by PIL, bounded.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gradcam_audit.core.ledger.run_results import SCHEMA_VERSION
from tests.baseline.conftest import audit, shipped_cases
from tests.plugin.conftest import write_spec  # noqa: F401 - fixture used here
from tests.hostile.conftest import Outcome, assert_message, write_png

SECRET = b"CI_TOKEN=ghp_door-secret-marker-0123456789abcdefABCDEF\n[remote]\n  url = https://x:token@example.invalid\n"
# Names a hostile results file may give as a picture, each holding the secret (the last two look like pictures by name,
# the last one by its first bytes too).
SECRET_FILES = ("secret.env", ".git/config", "case_images/secret.png", "case_images/fake_header.png")


def plant_secrets(folder: Path) -> None:
    for name in SECRET_FILES:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix = b"\x89PNG\r\n\x1a\n" if name.endswith("fake_header.png") else b""
        path.write_bytes(prefix + SECRET)


def secret_forms() -> Iterator[str]:
    """The secret as text and as base64 at each of the three byte alignments (what a data URI would hold)."""
    yield "ghp_door-secret-marker"
    for shift in range(3):
        encoded = base64.b64encode(SECRET[shift:]).decode("ascii")
        yield encoded[8:40]
    for shift in range(3):  # the fake PNG's body, aligned after its 8-byte header
        encoded = base64.b64encode((b"\x89PNG\r\n\x1a\n" + SECRET)[shift:]).decode("ascii")
        yield encoded[16:48]


def assert_no_secret(folder: Path) -> None:
    """No file under ``folder`` (the report and anything copied beside it) holds any form of the secret."""
    for path in folder.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("latin-1")
            for form in secret_forms():
                assert form not in text, f"{form!r} in {path}"
    for html in folder.rglob("*.htm*"):
        sources = re.findall(r'(?:src|href)="([^"]*)"', html.read_text(encoding="utf-8"))
        assert not [source for source in sources if "secret" in source or "fake_header" in source or ".git" in source], sources


def hostile_results(folder: Path, images: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    plant_secrets(folder)
    case = {"spec": "specs/pets.yaml", "id": "cat-0001", "method": "gradcam", "status": "passed", "images": images}
    path = folder / "results.json"
    path.write_text(json.dumps({"schema": SCHEMA_VERSION, "cases": [case]}), encoding="utf-8")
    return path


@pytest.mark.parametrize("secret_name", SECRET_FILES)
@pytest.mark.parametrize("mode", ["inline", "files"])
def test_report_inlines_or_links_only_pictures(cli: Callable[..., Outcome], tmp_path: Path, secret_name: str, mode: str) -> None:
    run = tmp_path / "run"
    write_png(run / "case_images" / "good.png", (8, 8))
    path = hostile_results(run, {"overlay": secret_name, "regions": "case_images/good.png"})
    out = tmp_path / "report" / "index.html"
    outcome = cli("report", path, "-o", out, "--images", mode)
    assert_message(outcome, "images.overlay", "skipped", exit_codes=(0,))  # the report renders, with a warning
    html = out.read_text(encoding="utf-8")
    assert "Picture not shown" in html and ("not a PNG, JPEG, WebP or GIF" in html or "does not decode" in html)
    assert ("data:image/png;base64," in html) if mode == "inline" else ("good.png" in html)  # the real picture stays
    assert_no_secret(tmp_path / "report")


def test_compare_shows_only_pictures_of_either_run(cli: Callable[..., Outcome], tmp_path: Path) -> None:
    base = hostile_results(tmp_path / "base", {"overlay": "secret.env", "regions": ".git/config"})
    candidate = hostile_results(tmp_path / "candidate", {"overlay": "case_images/fake_header.png", "regions": "secret.env"})
    for mode in ("inline", "files"):
        out = tmp_path / f"compare-{mode}" / "compare.html"
        outcome = cli("compare", base, candidate, "-o", out, "--images", mode)
        assert "Traceback" not in outcome.output and "skipped" in outcome.output, outcome.output
        assert "Picture not shown" in out.read_text(encoding="utf-8")
        assert_no_secret(out.parent)


def test_pytest_baseline_pictures_are_only_pictures(pytester: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(cases=shipped_cases(1))
    audit(pytester, spec, "released")[0].assert_outcomes(passed=1)
    released = pytester.path / "released"
    plant_secrets(released)
    document = json.loads((released / "results.json").read_text(encoding="utf-8"))
    for case in document["cases"]:
        case["images"] = {"overlay": "secret.env", "regions": ".git/config", "heatmap": "case_images/fake_header.png"}
    (released / "results.json").write_text(json.dumps(document), encoding="utf-8")
    for mode in ("inline", "files"):
        report = pytester.path / f"candidate-{mode}" / "index.html"
        result = pytester.runpytest("--gradcam-specs", str(spec), "--gradcam-report", str(report), "--gradcam-report-images", mode,
                                    "-p", "no:cacheprovider", "--gradcam-baseline", "released/results.json")
        result.assert_outcomes(passed=1)
        assert "Picture not shown" in report.read_text(encoding="utf-8")
        assert_no_secret(report.parent)


def test_a_non_picture_is_refused_by_content_whatever_its_name(tmp_path: Path) -> None:
    from gradcam_audit.errors import UnsafePathError
    from gradcam_audit.rendering.pictures.picture_door import checked_picture

    write_png(tmp_path / "real.png", (4, 4))
    shutil.copy(tmp_path / "real.png", tmp_path / "named_wrongly.txt")
    assert checked_picture(tmp_path, "named_wrongly.txt") == (tmp_path / "named_wrongly.txt").resolve()  # content decides
    plant_secrets(tmp_path)
    (tmp_path / "truncated.png").write_bytes((tmp_path / "real.png").read_bytes()[:40])
    (tmp_path / "page.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', encoding="utf-8")
    for name in (*SECRET_FILES, "truncated.png", "page.svg"):
        with pytest.raises(UnsafePathError):
            checked_picture(tmp_path, name)


def test_a_picture_over_the_pixel_bound_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gradcam_audit.errors import UnsafePathError
    from gradcam_audit.rendering.pictures import picture_door

    write_png(tmp_path / "wide.png", (400, 300))
    monkeypatch.setattr(picture_door, "MAX_PICTURE_PIXELS", 100_000)
    with pytest.raises(UnsafePathError, match="pixels"):
        picture_door.checked_picture(tmp_path, "wide.png")
    monkeypatch.setattr(picture_door, "MAX_PICTURE_BYTES", 10)
    with pytest.raises(UnsafePathError, match="larger than"):
        picture_door.checked_picture(tmp_path, "wide.png")
