"""The baseline's names in one import, for the renderers until they import the baseline's own modules (rules,
similarity, files, compare, shifts); nothing is defined here."""

from __future__ import annotations

from gradcam_audit.core.baseline.compare import (
    PREFIX,
    apply_comparison,
    compare_case,
    compare_unfinished,
    compare_with_baseline,
    rebaseline_run,
    summarize,
    with_unfinished_compared,
    without_baseline,
)
from gradcam_audit.core.baseline.files import READABLE_SCHEMAS, Baseline, CaseKey, baseline_files, load_baseline, read_baseline_file
from gradcam_audit.core.baseline.rules import (
    CASE_RULE_KEYS,
    REGION_RULE_KEYS,
    RULE_DEFAULTS,
    BaselineError,
    case_rules,
    check_rule,
    override_rules,
    parse_rule_settings,
    resolve_rules,
)
from gradcam_audit.core.baseline.shifts import SuiteShift, comparison_counts, suite_shifts
from gradcam_audit.core.baseline.similarity import heatmap_similarity

__all__ = [
    "CASE_RULE_KEYS", "PREFIX", "READABLE_SCHEMAS", "REGION_RULE_KEYS", "RULE_DEFAULTS", "Baseline", "BaselineError", "CaseKey", "SuiteShift",
    "apply_comparison", "baseline_files", "case_rules", "check_rule", "compare_case", "compare_unfinished", "compare_with_baseline",
    "comparison_counts", "heatmap_similarity", "load_baseline", "override_rules", "parse_rule_settings", "read_baseline_file",
    "rebaseline_run", "resolve_rules", "suite_shifts", "summarize", "with_unfinished_compared", "without_baseline",
]
