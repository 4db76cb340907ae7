"""The release gate against a baseline: each case compared with the released model's audit, regressions decided.

A baseline is the results file(s) of an earlier audit. Each case is matched to its baseline case by spec path,
case id and method; its regression rules (``baseline:`` in the spec, the ini's ``gradcam_baseline_rule``, else
the built-in defaults) become `Check` records decided here, so every renderer shows them without deciding.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradcam_audit.core.records.comparison import (
    BaselineComparison,
    BaselineSummary,
    CaseRules,
    CompactHeatmap,
    MetricDelta,
    RegionRules,
    RemovedCase,
)
from gradcam_audit.core.records.checks import Check, decide, limit_text, reasons
from gradcam_audit.core.ledger.entries import SELECTION_CAUSES, CaseEntry
from gradcam_audit.core.ledger.judging import final_case_status, judge_gate
from gradcam_audit.core.ledger.results_file import read_results
from gradcam_audit.core.ledger.run_results import SCHEMA_VERSION, RunResults
from gradcam_audit.core.records.results import CaseResult, read_json_file
from gradcam_audit.errors import GradcamAuditError, ResultsError

if TYPE_CHECKING:
    import numpy as np

    from gradcam_audit.core.spec.model import Case

CaseKey = tuple[str, str, str]

# The rules a user can set (spec `baseline:`, ini `gradcam_baseline_rule`), with their built-in defaults.
RULE_DEFAULTS: dict[str, float | bool | None] = {
    "max_mass_rise": 0.02,  # a forbidden region's mass may rise by at most this (absolute)
    "max_lift_drop": 0.25,  # a required region's lift may fall by at most this share of its baseline lift
    "must_still_pass": True,  # a case that passed in the baseline must still pass
    "min_heatmap_similarity": None,  # least Spearman rank correlation of the two heatmaps (off by default)
}
REGION_RULE_KEYS = ("max_mass_rise", "max_lift_drop")
CASE_RULE_KEYS = ("must_still_pass", "min_heatmap_similarity")
# The schemas a baseline may be written in: 2 is read as is, 1 is converted (it has no heatmaps).
READABLE_SCHEMAS = (1, SCHEMA_VERSION)
PREFIX = "regressed vs baseline: "


class BaselineError(GradcamAuditError, ValueError):
    """A baseline that cannot be used: missing, unreadable, of an unknown schema, or a rule that makes no sense."""


# -- rules -------------------------------------------------------------------------------------------


def check_rule(key: str, value: Any, where: str) -> float | bool | None:
    """A rule's value checked: the number kinds in their ranges, ``must_still_pass`` a boolean.

    Raises:
        BaselineError: an unknown key or a value out of range, naming ``where`` it was set.
    """
    if key not in RULE_DEFAULTS:
        raise BaselineError(f"{where}: unknown baseline rule {key!r}; the rules are {', '.join(RULE_DEFAULTS)}")
    if key == "must_still_pass":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
        raise BaselineError(f"{where}: must_still_pass must be true or false, got {value!r}")
    if key == "min_heatmap_similarity" and (value is None or str(value).strip().lower() in ("none", "off")):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    low, high = (-1.0, 1.0) if key == "min_heatmap_similarity" else (0.0, math.inf)
    if not (math.isfinite(number) and low <= number <= high):
        expected = "a number between -1 and 1" if key == "min_heatmap_similarity" else "a finite number ≥ 0"
        raise BaselineError(f"{where}: {key} must be {expected}, got {value!r}")
    return number


def parse_rule_settings(items: Iterable[str], where: str = "gradcam_baseline_rule") -> dict[str, float | bool | None]:
    """``["max_mass_rise=0.05", ...]`` (the ini's or the command line's) as checked values."""
    rules: dict[str, float | bool | None] = {}
    for item in items:
        key, separator, value = str(item).partition("=")
        if not separator:
            raise BaselineError(f"{where} {item!r}: expected KEY=VALUE, e.g. max_mass_rise=0.05")
        rules[key.strip()] = check_rule(key.strip(), value.strip(), f"{where} {item!r}")
    return rules


def resolve_rules(settings: Mapping[str, Any], case_values: Iterable[tuple[str, Any]],
                  regions: Iterable[tuple[str, Iterable[tuple[str, Any]]]]) -> CaseRules:
    """The rules in force: built-in defaults, then ``settings`` (ini), then the spec's (already inherited) values."""
    merged: dict[str, Any] = {**RULE_DEFAULTS, **settings}
    case_level = {**merged, **dict(case_values)}
    region_rules = []
    for name, values in regions:
        own = {**merged, **{key: value for key, value in dict(case_level).items() if key in REGION_RULE_KEYS}, **dict(values)}
        region_rules.append((name, RegionRules(float(own["max_mass_rise"]), float(own["max_lift_drop"]))))
    similarity = case_level["min_heatmap_similarity"]
    return CaseRules(bool(case_level["must_still_pass"]), None if similarity is None else float(similarity), tuple(region_rules))


def case_rules(case: Case, settings: Mapping[str, Any]) -> CaseRules:
    """The rules of a spec's case (its `baseline:` values already inherit `defaults:`; a region's inherit the case's)."""
    return resolve_rules(settings, case.baseline, ((region.name, region.baseline) for region in case.regions))


# -- heatmap similarity ---------------------------------------------------------------------------------


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their mean rank (as Spearman's coefficient needs)."""
    import numpy as np

    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    boundaries = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [values.size]))
    mean_ranks = (starts + ends + 1) / 2.0  # ranks start+1 … end, averaged
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_ranks, ends - starts)
    return ranks


def _resample(heatmap: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resampling of an (h, w) map onto ``shape`` (cell centres aligned), for maps of different layers."""
    import numpy as np

    height, width = heatmap.shape

    def axis(size: int, target: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        position = np.clip((np.arange(target) + 0.5) * size / target - 0.5, 0, size - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, size - 1)
        return low, high, position - low

    rows_low, rows_high, row_weight = axis(height, shape[0])
    columns_low, columns_high, column_weight = axis(width, shape[1])
    top = heatmap[rows_low][:, columns_low] * (1 - column_weight) + heatmap[rows_low][:, columns_high] * column_weight
    bottom = heatmap[rows_high][:, columns_low] * (1 - column_weight) + heatmap[rows_high][:, columns_high] * column_weight
    return np.asarray(top * (1 - row_weight[:, None]) + bottom * row_weight[:, None])


def heatmap_similarity(first: CompactHeatmap, second: CompactHeatmap) -> tuple[float | None, str]:
    """Spearman rank correlation of two heatmaps (the second resampled onto the first's grid if they differ),
    with why it is None (a constant map has no ranking) or a note ("" when there is nothing to say)."""
    import numpy as np

    candidate, baseline = first.decode(), second.decode()
    note = ""
    if candidate.shape != baseline.shape:
        baseline = _resample(baseline, (int(candidate.shape[0]), int(candidate.shape[1])))
        note = (f"the heatmaps have different resolutions ({second.width}×{second.height} in the baseline, "
                f"{first.width}×{first.height} now): the baseline's was resampled before comparing")
    a, b = _ranks(candidate.ravel()), _ranks(baseline.ravel())
    a, b = a - a.mean(), b - b.mean()
    spread = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if not spread > 0:
        return None, "a heatmap is constant, so its ranking (and the similarity) is undefined"
    return float(np.clip((a * b).sum() / spread, -1.0, 1.0)), note


# -- reading a baseline ---------------------------------------------------------------------------------


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
    result = None if verdict is None else {
        key: data.get(key) for key in ("spec", "id", "method", "reason", "layer", "layer_reason", "score_kind", "predicted", "target",
                                       "expect_class", "degenerate", "image", "image_size", "model", "model_sha256", "preprocess", "resize")
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
    return RunResults.from_dict(upgraded, source)


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


# -- comparing one case ---------------------------------------------------------------------------------


def _signed_percent(share: float) -> str:
    return f"{share:+.0%}".replace("-", "−")


def _lift_drop(baseline: float, candidate: float) -> float:
    """How much of its baseline lift a region lost (0.3 = 30 % lower; negative when it rose)."""
    if baseline > 0:
        return (baseline - candidate) / baseline
    return 0.0 if candidate >= baseline else math.inf


def compare_case(result: CaseResult, found: tuple[CaseEntry, int] | None, rules: CaseRules) -> BaselineComparison:
    """The regression checks of ``result`` (the candidate's own computation) against its baseline case."""
    if found is None:
        return BaselineComparison("new", False, verdict_before=result.verdict, reason_before=result.reason,
                                  notes=("no case with this spec path, id and method in the baseline",))
    entry, source = found
    base = entry.result
    if base is None:
        return BaselineComparison("new", False, baseline_status=entry.status, verdict_before=result.verdict, reason_before=result.reason,
                                  images=dict(entry.images), source=source,
                                  notes=(f"the baseline case has no result to compare with (it ended {entry.status} there)",))
    checks: list[Check] = []
    notes: list[str] = []
    if rules.must_still_pass and base.verdict == "passed":
        checks.append(decide("baseline", "still_passes", result.verdict == "passed", "==", True, threshold_key="baseline.must_still_pass",
                             reason=f"{PREFIX}passed in the baseline, {result.verdict} now"))
    deltas: list[MetricDelta] = []
    improved = base.verdict != "passed" and result.verdict == "passed"
    baseline_regions = {region.name: region for region in base.regions}
    for region in result.regions:
        before = baseline_regions.get(region.name)
        if before is None:
            notes.append(f"region “{region.name}” is new since the baseline")
            continue
        region_rules = rules.region(region.name)
        for metric, old, new in (("mass", before.mass, region.mass), ("lift", before.lift, region.lift)):
            deltas.append(MetricDelta(region.name, region.role, metric, old, new, new - old, (new - old) / old if old else None))
        if region.role == "forbidden":
            rise = region.mass - before.mass
            limit = region_rules.max_mass_rise
            checks.append(decide(region.name, "mass_rise", rise, "<=", limit, threshold_key="baseline.max_mass_rise",
                                 reason=f"{PREFIX}{region.name} mass {before.mass:.3f} → {region.mass:.3f} ({rise:+.3f}, allowed "
                                        f"+{limit_text(limit)})"))
            improved = improved or -rise > limit
        elif region.role == "required":
            drop = _lift_drop(before.lift, region.lift)
            limit = region_rules.max_lift_drop
            checks.append(decide(region.name, "lift_drop", drop if math.isfinite(drop) else None, "<=", limit,
                                 threshold_key="baseline.max_lift_drop",
                                 reason=f"{PREFIX}{region.name} lift {before.lift:.2f} → {region.lift:.2f} ({_signed_percent(-drop)}, "
                                        f"allowed −{limit:.0%})"))
            improved = improved or (before.lift > 0 and -drop > limit)
    gone = sorted(set(baseline_regions) - {region.name for region in result.regions})
    if gone:
        notes.append("region(s) gone since the baseline: " + ", ".join(f"“{name}”" for name in gone))
    similarity: float | None = None
    why_none = ""
    if result.heatmap is None or base.heatmap is None:
        side = "the baseline" if base.heatmap is None else "this run"
        why_none = f"{side} has no heatmap for this case"
    else:
        try:
            similarity, why = heatmap_similarity(result.heatmap, base.heatmap)
        except ResultsError as error:
            similarity, why = None, f"the baseline's heatmap cannot be read ({error})"
        if similarity is None:
            why_none = why
        elif why:
            notes.append(why)
    if rules.min_heatmap_similarity is not None:
        limit = rules.min_heatmap_similarity
        reason = (f"{PREFIX}heatmap similarity {similarity:.3f} (Spearman) < {limit_text(limit)}" if similarity is not None
                  else f"{PREFIX}heatmap similarity cannot be judged: {why_none}")
        checks.append(decide("heatmap", "heatmap_similarity", similarity, ">=", limit, threshold_key="baseline.min_heatmap_similarity",
                             reason=reason))
    if base.model_sha256 and base.model_sha256 == result.model_sha256:
        notes.append("comparing a model with itself: the baseline's model file has the same SHA-256")
    if base.layer and result.layer and base.layer != result.layer:
        notes.append(f"the explained layer changed: {base.layer} in the baseline, {result.layer} now")
    regressed = any(not check.passed for check in checks)
    status = "regressed" if regressed else "improved" if improved else "unchanged"
    return BaselineComparison(status, regressed, tuple(checks), tuple(deltas), similarity, entry.status, base.verdict, base.model_sha256,
                              result.verdict, result.reason, dict(entry.images), source, tuple(notes))


def compare_unfinished(entry: CaseEntry, found: tuple[CaseEntry, int] | None, rules: CaseRules) -> BaselineComparison | None:
    """The comparison of a case that has no computation now (an error before it computed, or not run for a reason
    other than the user's selection) with its baseline case: under ``must_still_pass`` a baseline pass is a
    regression. None when there is nothing to decide (no baseline case, or it did not pass there)."""
    if found is None or entry.status == "skipped" or (entry.status == "not_run" and entry.cause in SELECTION_CAUSES):
        return None
    base_entry, source = found
    base = base_entry.result
    if base is None or base.verdict != "passed" or not rules.must_still_pass:
        return None
    now = "did not run" if entry.status == "not_run" else entry.status
    check = decide("baseline", "still_passes", False, "==", True, threshold_key="baseline.must_still_pass",
                   reason=f"{PREFIX}passed in the baseline, {now} now ({entry.reason.splitlines()[0] if entry.reason else 'no reason given'})")
    return BaselineComparison("regressed", True, (check,), baseline_status=base_entry.status, baseline_verdict=base.verdict,
                              baseline_model_sha256=base.model_sha256, verdict_before=entry.status, reason_before=entry.reason,
                              images=dict(base_entry.images), source=source)


def with_unfinished_compared(entry: CaseEntry, baseline: Baseline, rules: CaseRules) -> CaseEntry:
    """``entry`` with its comparison recorded when it has no result to compare (see `compare_unfinished`)."""
    if entry.result is not None:
        return entry
    return replace(entry, baseline=compare_unfinished(entry, baseline.find(entry.key), rules))


def without_baseline(result: CaseResult) -> CaseResult:
    """The case's own computation: an earlier comparison's checks, verdict and reason taken back out."""
    comparison = result.baseline
    if comparison is None:
        return result
    return replace(result, verdict=comparison.verdict_before or result.verdict, reason=comparison.reason_before,
                   checks=tuple(check for check in result.checks if not check.threshold_key.startswith("baseline.")), baseline=None)


def apply_comparison(result: CaseResult, comparison: BaselineComparison) -> CaseResult:
    """The case's result with the comparison's checks among its checks: a regression fails a case that passed."""
    verdict = "failed" if comparison.regressed and result.verdict == "passed" else result.verdict
    reason = "; ".join(part for part in (result.reason, *reasons(comparison.checks)) if part)
    return replace(result, verdict=verdict, reason=reason, checks=(*result.checks, *comparison.checks), baseline=comparison)


def compare_with_baseline(result: CaseResult, baseline: Baseline, rules: CaseRules) -> CaseResult:
    """``result`` compared with its case in ``baseline`` (an earlier comparison is replaced)."""
    own = without_baseline(result)
    return apply_comparison(own, compare_case(own, baseline.find((own.spec, own.id, own.method)), rules))


# -- the run's side ------------------------------------------------------------------------------------------


def summarize(baseline: Baseline, cases: Iterable[CaseEntry]) -> BaselineSummary:
    """Which baseline cases the run no longer has, and notes about the whole comparison."""
    cases = tuple(cases)
    matched = {found[0].key for found in (baseline.find(case.key) for case in cases) if found is not None}
    removed = tuple(RemovedCase(entry.spec, entry.id, entry.method, entry.status)
                    for key, (entry, _) in baseline.cases.items() if key not in matched and entry.method != "-")
    notes = list(baseline.notes)
    compared = [case.result for case in cases if case.result is not None and case.result.baseline is not None
                and case.result.baseline.baseline_model_sha256 is not None]
    same = [result for result in compared if result.model_sha256 == result.baseline.baseline_model_sha256]  # type: ignore[union-attr]
    if same:
        scope = "every compared case" if len(same) == len(compared) else f"{len(same)} of {len(compared)} compared cases"
        notes.append(f"comparing a model with itself: {scope} ran the same model file as the baseline (equal SHA-256 "
                     f"{(same[0].model_sha256 or '')[:12]}…)")
    return BaselineSummary(baseline.sources, baseline.schemas, removed, tuple(notes), baseline.folders)


def rebaseline_run(candidate: RunResults, baseline: Baseline, rule_settings: Mapping[str, Any] | None = None) -> RunResults:
    """A finished run compared with ``baseline`` after the fact (``gradcam-audit compare``): each computed case gets
    the regression checks, its final status follows from them, and the gates are judged again from the new statuses.

    Each case keeps the rules recorded in its results (from its spec and ini); ``rule_settings`` replace them."""
    cases: list[CaseEntry] = []
    for entry in candidate.cases:
        if entry.result is None or entry.status in ("skipped", "not_run"):
            rules = override_rules(entry.result.baseline_rules if entry.result is not None and entry.result.baseline_rules else CaseRules(),
                                   rule_settings or {})
            cases.append(with_unfinished_compared(replace(entry, baseline=None), baseline, rules))
            continue
        own = without_baseline(entry.result)
        rules = own.baseline_rules or resolve_rules({}, (), ((region.name, ()) for region in own.regions))
        result = compare_with_baseline(own, baseline, override_rules(rules, rule_settings or {}))
        status, extra = final_case_status(result.verdict, entry.xfail)
        cases.append(replace(entry, status=status, reason=extra or result.reason, result=result))
    gates = tuple(judge_gate(gate, cases) if gate.status in ("passed", "failed", "xfailed", "xpassed") else gate for gate in candidate.gates)
    return replace(candidate, cases=tuple(cases), gates=gates, baseline=summarize(baseline, cases))


def override_rules(rules: CaseRules, settings: Mapping[str, Any]) -> CaseRules:
    """``rules`` with every value ``settings`` names replaced (in the case and in each of its regions)."""
    if not settings:
        return rules
    case_values = {"must_still_pass": rules.must_still_pass, "min_heatmap_similarity": rules.min_heatmap_similarity}
    case_values.update({key: value for key, value in settings.items() if key in CASE_RULE_KEYS})
    regions = tuple((name, replace(region, **{key: float(value) for key, value in settings.items() if key in REGION_RULE_KEYS}))
                    for name, region in rules.regions)
    similarity = case_values["min_heatmap_similarity"]
    return CaseRules(bool(case_values["must_still_pass"]), None if similarity is None else float(similarity), regions)


# -- counting, for every renderer ------------------------------------------------------------------------------


def comparison_counts(results: RunResults) -> dict[str, Counter[str]]:
    """Per suite: how many cases regressed, improved, stayed unchanged, are new, or were removed."""
    counts: dict[str, Counter[str]] = {}
    for case in results.cases:
        if case.comparison is not None:
            counts.setdefault(case.spec, Counter())[case.comparison.status] += 1
    if results.baseline is not None:
        for removed in results.baseline.removed:
            counts.setdefault(removed.spec, Counter())["removed"] += 1
    return counts


@dataclass(frozen=True)
class SuiteShift:
    """A suite-level number in the baseline and now, over the cases compared (``cases``)."""

    suite: str
    metric: str  # "pass_rate" | "forbidden_mass" | "required_lift" | "heatmap_similarity" (no baseline side)
    baseline: float | None
    candidate: float | None
    cases: int  # cases (regions, for the region means) the numbers are taken over

    @property
    def delta(self) -> float | None:
        return None if self.baseline is None or self.candidate is None else self.candidate - self.baseline


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def suite_shifts(results: RunResults) -> tuple[SuiteShift, ...]:
    """Per suite: pass rate, mean forbidden-region mass, mean required-region lift and mean heatmap similarity,
    in the baseline and now, over the cases that have a baseline result."""
    by_suite: dict[str, list[BaselineComparison]] = {}
    for case in results.cases:
        comparison = case.comparison
        if comparison is not None and comparison.baseline_verdict:
            by_suite.setdefault(case.spec, []).append(comparison)
    shifts: list[SuiteShift] = []
    for suite, comparisons in sorted(by_suite.items()):
        shifts.append(SuiteShift(suite, "pass_rate", _mean([float(item.baseline_verdict == "passed") for item in comparisons]),
                                 _mean([float(item.verdict_before == "passed") for item in comparisons]), len(comparisons)))
        for metric, role, name in (("forbidden_mass", "forbidden", "mass"), ("required_lift", "required", "lift")):
            deltas = [delta for item in comparisons for delta in item.deltas if delta.role == role and delta.metric == name]
            if deltas:
                shifts.append(SuiteShift(suite, metric, _mean([delta.baseline for delta in deltas]), _mean([delta.candidate for delta in deltas]),
                                         len(deltas)))
        similarities = [item.heatmap_similarity for item in comparisons if item.heatmap_similarity is not None]
        if similarities:
            shifts.append(SuiteShift(suite, "heatmap_similarity", None, _mean(similarities), len(similarities)))
    return tuple(shifts)

