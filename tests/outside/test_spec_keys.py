"""The spec keys of the sweep beyond the boxes: read from `defaults:` or a case, validated like every threshold."""

from __future__ import annotations

from pathlib import Path

import yaml

from gradcam_audit.core.spec.load import parse_spec


def _parse(tmp_path: Path, document: dict[str, object]):  # type: ignore[no-untyped-def]
    (tmp_path / "m.keras").write_bytes(b"")  # only its existence is checked without loading
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return parse_spec(path, check_images=False)


def _document(**extra: object) -> dict[str, object]:
    case = {"id": "a", "image": "a.png", "regions": [{"name": "object", "box": [0, 0, 4, 4], "min_mass": 0.1}]}
    return {"model": "m.keras", "removal": "mean", "cases": [case, {**case, "id": "b", "max_outside_effect": 0.3, "removal": "blur"}],
            **extra}


def test_defaults_and_case_values_are_read_and_the_gate_alone_is_a_threshold(tmp_path: Path) -> None:
    parsed = _parse(tmp_path, _document(defaults={"max_outside_effect": 0.1}, gate={"max_outside_dependence_rate": 0.2}))
    assert parsed.all_problems == ()
    assert parsed.spec is not None and parsed.spec.gate is not None
    first, second = parsed.spec.cases
    assert (first.max_outside_effect, first.removal) == (0.1, "mean")
    assert (second.max_outside_effect, second.removal) == (0.3, "blur")
    assert parsed.spec.gate.max_outside_dependence_rate == 0.2


def test_out_of_range_values_are_problems_with_their_field(tmp_path: Path) -> None:
    parsed = _parse(tmp_path, _document(defaults={"max_outside_effect": 1.5}, gate={"max_outside_dependence_rate": -1}))
    fields = {problem.field for problem in parsed.all_problems}
    assert {"defaults.max_outside_effect", "gate.max_outside_dependence_rate"} <= fields
