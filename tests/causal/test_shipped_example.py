"""The shipped example's causal evidence, pinned: the shortcut model relies on the tag, the honest one does not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gradcam_audit.core.ledger.entries import CaseEntry, GateEntry
from gradcam_audit.core.ledger.results_file import read_results
from gradcam_audit.core.ledger.run_results import RunResults
from tests.conftest import ExampleRun


@pytest.fixture(scope="module")
def ledger(example_run: ExampleRun) -> RunResults:
    """The CNN pair's cases and gates from the README's example run (run once for the suite: tests/conftest.py), read
    back from its results.json, as any later reader of the run sees them."""
    assert example_run.returncode == 0, example_run.stdout[-3000:] + example_run.stderr[-3000:]
    run = read_results(example_run.results)
    pair = ("stripes_honest.yaml", "stripes_shortcut.yaml")
    return replace(run, cases=tuple(case for case in run.cases if case.spec.endswith(pair)),
                   gates=tuple(gate for gate in run.gates if gate.spec.endswith(pair)))


def _cases(ledger: RunResults, suite: str) -> list[CaseEntry]:
    return [case for case in ledger.cases if case.spec.endswith(suite)]


def _gate(ledger: RunResults, suite: str) -> GateEntry:
    return next(gate for gate in ledger.gates if gate.spec.endswith(suite))


def _tag_effects(cases: list[CaseEntry]) -> list[tuple[float, bool]]:
    effects = []
    for case in cases:
        assert case.result is not None
        tag = next(region for region in case.result.regions if region.name == "corner-tag")
        (check,) = [check for check in tag.checks if check.threshold_key == "max_effect"]
        assert tag.effect is not None and check.limit == 0.1
        effects.append((tag.effect, check.passed))
    return effects


def test_the_shortcut_suite_fails_the_transplant_gate_and_max_effect_on_the_tag(ledger: RunResults) -> None:
    gate = _gate(ledger, "stripes_shortcut.yaml")
    assert gate.status == "xfailed" and gate.result is not None
    measurements = gate.result.measurements
    assert measurements["transplant_flip_rate"] is not None and measurements["transplant_flip_rate"] >= 0.9  # measured: 1.0
    assert measurements["transplant_pairs"] == 64 and len(gate.result.transplant) == 64
    assert any(check.metric == "transplant_flip_rate" and not check.passed for check in gate.result.checks)
    effects = _tag_effects(_cases(ledger, "stripes_shortcut.yaml"))
    failing = [effect for effect, passed in effects if not passed]
    assert len(effects) == 24 and len(failing) >= 8  # measured: 12 of 24 (the 'vertical' cases), effects 0.949–0.993
    assert all(effect > 0.1 for effect in failing)


def test_every_honest_case_passes_both_and_the_flip_rate_is_low(ledger: RunResults) -> None:
    effects = _tag_effects(_cases(ledger, "stripes_honest.yaml"))
    assert len(effects) == 24
    assert all(passed and abs(effect) <= 0.05 for effect, passed in effects)  # measured: |effect| < 1e-3
    gate = _gate(ledger, "stripes_honest.yaml")
    assert gate.status == "passed" and gate.result is not None
    flip_rate = gate.result.measurements["transplant_flip_rate"]
    assert flip_rate is not None and flip_rate <= 0.05  # measured: 0.0


def test_both_models_pass_the_weight_randomisation_sanity_gate(ledger: RunResults) -> None:
    for suite in ("stripes_honest.yaml", "stripes_shortcut.yaml"):
        gate = _gate(ledger, suite)
        assert gate.result is not None
        similarity = gate.result.measurements["randomization_similarity"]
        assert similarity is not None and similarity <= 0.5  # measured: 0.11 (honest), 0.13 (shortcut)
        (check,) = [check for check in gate.result.checks if check.metric == "randomization_similarity"]
        assert check.passed and len(gate.result.randomization) == 24


def test_the_ledger_with_causal_evidence_is_strict_json_and_reads_back(ledger: RunResults, tmp_path: Path) -> None:
    from gradcam_audit.core.ledger.results_file import read_results, write_results

    path = tmp_path / "results.json"
    write_results(ledger, path)
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    again = read_results(path)
    assert again.gates == ledger.gates
    assert [case.result for case in again.cases] == [case.result for case in ledger.cases]


def test_the_cascade_randomises_from_the_top_down_and_ends_at_the_full_randomisation(ledger: RunResults) -> None:
    from gradcam_audit.core.evaluate.causal import CASCADE_CASES

    for suite in ("stripes_honest.yaml", "stripes_shortcut.yaml"):
        gate = _gate(ledger, suite)
        assert gate.result is not None
        stages = gate.result.cascade
        total = stages[-1].layers_total
        assert total >= 2 and [stage.layers_randomized for stage in stages] == list(range(1, total + 1))
        assert all(stage.heatmap is not None and -1.0 <= stage.similarity <= 1.0 for stage in stages)
        assert len({stage.deepest for stage in stages}) == len(stages)  # each stage reaches one layer deeper
        # Every layer re-initialised is the full randomisation: the same maps, so the same similarity over those cases.
        compared = list(gate.result.randomization.values())[:CASCADE_CASES]
        assert stages[-1].similarity == pytest.approx(sum(compared) / len(compared), abs=1e-6)
        assert gate.result.cascade_case == next(iter(gate.result.randomization))


def test_the_docs_quote_this_audits_figures(ledger: RunResults) -> None:
    """docs/causal-evidence.md and docs/quick-start.md quote these figures of the same audit (no second run)."""
    from benchmarks import figures

    quoted: dict[str, object] = {}
    for suite in ("honest", "shortcut"):
        cases = _cases(ledger, f"stripes_{suite}.yaml")
        gate = _gate(ledger, f"stripes_{suite}.yaml")
        assert gate.result is not None
        flip_rate, pairs = gate.result.measurements["transplant_flip_rate"], gate.result.measurements["transplant_pairs"]
        assert flip_rate is not None and pairs is not None
        quoted |= {f"{suite}_cases": len(cases), f"{suite}_flip_rate": flip_rate, f"{suite}_flips": round(flip_rate * pairs),
                   f"{suite}_similarity": gate.result.measurements["randomization_similarity"], "pairs": int(pairs)}
        effects = _tag_effects(cases)
        quoted[f"{suite}_effect_max"] = max(abs(effect) for effect, _ in effects)
        caught = [effect for effect, passed in effects if not passed]
        other = [effect for effect, passed in effects if passed]
        quoted |= {f"{suite}_caught": len(caught), f"{suite}_other": len(other)}
        if caught:
            quoted |= {f"{suite}_caught_effect_min": min(caught), f"{suite}_caught_effect_max": max(caught)}
        if other:
            quoted |= {f"{suite}_other_effect_min": min(other), f"{suite}_other_effect_max": max(other)}
    assert figures.check({"causal_example": quoted}) == []
