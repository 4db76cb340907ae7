"""`gradcam-audit report`: several JSON results (CI shards) merged into one HTML report, pictures found."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from gradcam_audit.core.ledger.entries import CaseEntry
from gradcam_audit.core.ledger.results_file import write_results
from gradcam_audit.core.ledger.run_results import RunResults
from tests.cli.conftest import assert_clean_error, run_cli, write_image


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources += [value for name, value in attrs if name == "src" and value]


def image_sources(html: str) -> list[str]:
    parser = _Images()
    parser.feed(html)
    return parser.sources


def shard(folder: Path, case_id: str, status: str) -> Path:
    """A results.json as the plugin writes it beside its report, with a case picture relative to that folder."""
    write_image(folder / "case_images" / f"{case_id}.overlay.jpg", (32, 32), (200, 30, 30))
    case = CaseEntry(spec="specs/pets.yaml", id=case_id, method="gradcam", status=status,
                     reason="" if status == "passed" else "mass 0.100 < min_mass 0.4",
                     images={"overlay": f"case_images/{case_id}.overlay.jpg"})
    path = folder / "results.json"
    write_results(RunResults(cases=(case,), started="2025-01-01T00:00:00+00:00", command="pytest"), path)
    return path


def test_report_merges_two_shards_into_one_self_contained_html(tmp_path: Path) -> None:
    first = shard(tmp_path / "shard-a" / "report", "cat-0001", "passed")
    second = shard(tmp_path / "shard-b", "dog-0002", "failed")
    output = tmp_path / "merged" / "index.html"
    result = run_cli("report", first, second, "-o", output)
    # The merged run failed (one shard's case failed): report exits by the one verdict, as pytest would.
    assert result.returncode == 1, result.stderr
    assert "2 case(s) (1 failed, 1 passed)" in result.stdout
    assert "FAILED" in result.stdout
    html = output.read_text(encoding="utf-8")
    assert "cat-0001" in html and "dog-0002" in html
    inline = [source for source in image_sources(html) if source.startswith("data:image/jpeg;base64,")]
    assert len(inline) >= 2  # both shards' pictures were found through their own folders


def test_report_with_image_files_links_to_each_shards_pictures(tmp_path: Path) -> None:
    first = shard(tmp_path / "shard-a" / "report", "cat-0001", "passed")
    second = shard(tmp_path / "shard-b", "dog-0002", "failed")
    output = tmp_path / "merged" / "index.html"
    result = run_cli("report", first, second, "-o", output, "--images", "files")
    assert result.returncode == 1, result.stderr  # the merged verdict: one case failed
    linked = [source for source in image_sources(output.read_text(encoding="utf-8")) if source.endswith(".overlay.jpg")]
    assert {Path(source).name for source in linked} == {"cat-0001.overlay.jpg", "dog-0002.overlay.jpg"}
    assert all((output.parent / source).is_file() for source in linked), linked


def test_report_bad_json_is_a_clear_error(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"hello": 1}), encoding="utf-8")
    result = run_cli("report", wrong, "-o", tmp_path / "r.html")
    assert_clean_error(result, "wrong.json", "not a gradcam_audit results file")
    assert result.returncode == 2  # unusable input, not a failed audit
    assert_clean_error(run_cli("report", tmp_path / "none.json", "-o", tmp_path / "r.html"), "results file not found")


def test_report_exit_status_is_the_merged_verdict(tmp_path: Path) -> None:
    """0 only when the merged run passed: the same decision as pytest's, so a merge job can be the release gate."""
    first = shard(tmp_path / "shard-a", "cat-0001", "passed")
    second = shard(tmp_path / "shard-b", "dog-0002", "passed")
    passed = run_cli("report", first, second, "-o", tmp_path / "passed.html")
    assert passed.returncode == 0, passed.stderr
    assert "PASSED" in passed.stdout
    third = shard(tmp_path / "shard-c", "cow-0003", "error")
    errored = run_cli("report", first, third, "-o", tmp_path / "errored.html")
    assert errored.returncode == 1, errored.stderr
