"""The ledger's names in one import, for the renderers until they import the ledger's own modules (entries,
judging, run_results, results_file, merge); nothing is defined here."""

from __future__ import annotations

from gradcam_audit.core.ledger.entries import BLOCKING_STATUSES, NOT_RUN_CAUSES, SELECTION_CAUSES, STATUSES, CaseEntry, GateEntry
from gradcam_audit.core.ledger.judging import final_case_status, final_gate_status, judge_gate
from gradcam_audit.core.ledger.merge import merge_results
from gradcam_audit.core.ledger.results_file import read_results, write_results
from gradcam_audit.core.ledger.run_results import RUN_VERDICTS, SCHEMA_VERSION, RunResults

__all__ = [
    "BLOCKING_STATUSES", "NOT_RUN_CAUSES", "RUN_VERDICTS", "SCHEMA_VERSION", "SELECTION_CAUSES", "STATUSES", "CaseEntry", "GateEntry",
    "RunResults", "final_case_status", "final_gate_status", "judge_gate", "merge_results", "read_results", "write_results",
]
