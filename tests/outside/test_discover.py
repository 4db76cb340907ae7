"""`gradcam-audit discover`: findings in words, suggested forbidden regions as YAML that loads, exit 0 / 1 / 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gradcam_audit.cli.main import main
from tests.outside.stripes import CASES, TAG, blind_spec, covers

TAG_CENTRE = ((TAG[0] + TAG[2]) / 2, (TAG[1] + TAG[3]) / 2)


def test_discover_names_the_tag_for_every_affected_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = blind_spec(tmp_path / "specs", "shortcut")
    output = tmp_path / "suggested.yaml"
    assert main(["discover", str(tmp_path / "specs"), "-o", str(output)]) == 1
    printed = capsys.readouterr().out
    assert "3 of 3 cases depend on pixels outside their required regions" in printed
    assert "in 3 of 3 cases, removing the top-left corner" in printed and "no region names it" in printed
    text = output.read_text(encoding="utf-8")
    assert text.startswith("# gradcam-audit discover")
    data = yaml.safe_load(text)
    [entry] = data["specs"]
    assert Path(entry["spec"]).resolve() == spec.resolve()
    assert [case["id"] for case in entry["cases"]] == list(CASES)
    for case in entry["cases"]:
        region = case["regions"][0]
        assert set(region) == {"name", "box", "max_mass", "max_effect"}
        assert covers(region["box"], TAG_CENTRE), region
        assert region["max_effect"] == 0.15


def test_discover_finds_nothing_on_the_honest_model_and_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = blind_spec(tmp_path, "honest")
    output = tmp_path / "suggested.yaml"
    assert main(["discover", str(spec), "--sample", "2", "-o", str(output)]) == 0
    assert "nothing found outside the required regions in 2 cases" in capsys.readouterr().out
    assert yaml.safe_load(output.read_text(encoding="utf-8")) == {"specs": []}


def test_discover_refuses_bad_input_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discover", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: nowhere.keras\ncases: []\n", encoding="utf-8")
    assert main(["discover", str(broken)]) == 2
    assert "broken.yaml" in capsys.readouterr().err
    assert main(["discover", str(broken), "--sample", "0"]) == 2
