"""Malformed results JSON given to `gradcam-audit report`: one message with the file and the JSON field path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradcam_audit.core.ledger.run_results import SCHEMA_VERSION

from tests.hostile.conftest import assert_message

CASE = {"spec": "specs/pets.yaml", "id": "cat-0001", "method": "gradcam", "status": "passed"}
REGION = {"name": "cat", "role": "required", "mass": 0.5, "lift": 2.0, "area_share": 0.25}
RESULT = {"spec": "specs/pets.yaml", "id": "cat-0001", "method": "gradcam", "verdict": "passed"}


def _with(case: dict[str, object], **changes: object) -> bytes:
    return json.dumps({"schema": SCHEMA_VERSION, "cases": [{**case, **changes}]}).encode("utf-8")


HOSTILE: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "string_for_number": (_with(CASE, result={**RESULT, "regions": [{**REGION, "mass": "lots"}]}),
                          ("cases[0].result.regions[0].mass", "expected a number")),
    "dict_for_list": (_with(CASE, result={**RESULT, "regions": {"cat": REGION}}), ("cases[0].result.regions", "expected a list")),
    "list_for_dict": (_with(CASE, images=["a.png"]), ("cases[0].images", "expected an object")),
    "cases_not_list": (json.dumps({"schema": SCHEMA_VERSION, "cases": "all"}).encode(), ("cases", "expected a list")),
    "top_level_list": (b"[1, 2, 3]", ("not a gradcam_audit results file", "a list")),
    "binary": (bytes(range(256)) * 4, ("not UTF-8",)),
    "utf16": (json.dumps({"schema": SCHEMA_VERSION, "cases": []}).encode("utf-16"), ("UTF-16",)),
    "truncated": (_with(CASE)[:-7], ("line 1", "truncated")),
    "deeply_nested": (b"[" * 100_000 + b"]" * 100_000, ("nested too deeply",)),
    "missing_id": (json.dumps({"schema": SCHEMA_VERSION, "cases": [{"spec": "s", "method": "m", "status": "passed"}]}).encode(),
                   ("cases[0].id", "missing")),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_malformed_results_json_is_one_message_naming_the_field(cli, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    content, fragments = HOSTILE[name]
    path = tmp_path / "results.json"
    path.write_bytes(content)
    outcome = cli("report", path, "-o", tmp_path / "index.html")
    assert_message(outcome, "results.json", *fragments)
    assert not (tmp_path / "index.html").exists()
