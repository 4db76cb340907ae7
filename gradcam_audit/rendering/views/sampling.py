"""Which cases a huge run's HTML report shows in full: every case that needs attention, and a deterministic sample of
the passes (the rest are in results.json). A presentation choice only: verdicts, counts and gates use every case."""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gradcam_audit.core.ledger.entries import CaseEntry, SELECTION_CAUSES

# Above this many planned cases the report samples its passes and keeps its pictures as files beside it.
SAMPLE_ABOVE_CASES = 1000
# About how many passed cases a sampled report shows in full.
SHOWN_PASSES = 200
# Lowers (or raises) SAMPLE_ABOVE_CASES for one run, e.g. to see a small run's sampled report in a test.
SAMPLE_ABOVE_VARIABLE = "GRADCAM_REPORT_SAMPLE_ABOVE"
# Statuses that are sampled: nothing to act on. Failures, errors, unexpected passes and cases that did not run
# (other than by the user's own selection) are always shown.
SAMPLED_STATUSES = ("passed", "xfailed", "skipped")


@dataclass(frozen=True)
class CaseSample:
    """Shows a sampled case when the CRC-32 of its key falls in bucket 0 of ``every`` (1: every case is shown).

    The choice depends on the case's key alone, so the process that draws a case's pictures and the controller that
    writes the report agree without talking, and the same suite samples the same cases on every run.
    """

    planned_cases: int
    every: int = 1

    @property
    def active(self) -> bool:
        return self.every > 1

    def shows(self, entry: CaseEntry) -> bool:
        """Whether the report shows ``entry`` in full (and so whether its pictures are worth drawing)."""
        if not self.active or not is_sampled_status(entry):
            return True
        return key_bucket(entry.spec, entry.id, entry.method, self.every) == 0


def is_sampled_status(entry: CaseEntry) -> bool:
    if entry.status == "not_run":
        return entry.cause in SELECTION_CAUSES  # left out by -k, -m or a shard: the user's choice, nothing to act on
    return entry.status in SAMPLED_STATUSES


def key_bucket(spec: str, case_id: str, method: str, every: int) -> int:
    """A stable bucket in [0, every) for a case key (CRC-32, not Python's hash(): that changes with each process)."""
    return zlib.crc32("\x00".join((spec, case_id, method)).encode("utf-8")) % every


def case_sample(planned_cases: int, *, sample_above: int = SAMPLE_ABOVE_CASES, shown_passes: int = SHOWN_PASSES) -> CaseSample:
    """The sample for a run of ``planned_cases``: none at or below ``sample_above``, else about ``shown_passes`` passes."""
    if planned_cases <= sample_above or shown_passes <= 0:
        return CaseSample(planned_cases)
    # At least every other pass is left out once sampling is on, also when a lowered threshold meets a small run.
    return CaseSample(planned_cases, every=max(2, math.ceil(planned_cases / shown_passes)))


def sample_above_from(environment: Mapping[str, str]) -> int:
    """SAMPLE_ABOVE_CASES, or the whole number in ``GRADCAM_REPORT_SAMPLE_ABOVE`` when that is set.

    Raises:
        ValueError: the variable is set but is not a whole number of at least 0.
    """
    text = environment.get(SAMPLE_ABOVE_VARIABLE, "").strip()
    if not text:
        return SAMPLE_ABOVE_CASES
    if not text.isdigit():
        raise ValueError(f"{SAMPLE_ABOVE_VARIABLE}={text!r}: expected a whole number of cases (e.g. {SAMPLE_ABOVE_CASES}); "
                         "unset it to use the default")
    return int(text)


def sample_notice(sample: CaseSample, cases: Iterable[CaseEntry]) -> str:
    """The sentence shown beside the case list of a sampled report ("" when nothing was left out)."""
    if not sample.active:
        return ""
    sampled = [entry for entry in cases if is_sampled_status(entry)]
    shown = sum(1 for entry in sampled if sample.shows(entry))
    if shown == len(sampled):
        return ""
    passed_words = "passed cases" if all(entry.status == "passed" for entry in sampled) else "passed, expected-failure and skipped cases"
    return (f"Showing {shown:,} of {len(sampled):,} {passed_words} (a deterministic sample); every case that needs attention "
            "is shown, and every case is in results.json.")


def pictures_notice(sample: CaseSample, pictures_folder: str) -> str:
    """Why a sampled report's pictures are files beside it ("" when the run is not sampled)."""
    if not sample.active:
        return ""
    return (f"This run has {sample.planned_cases:,} planned cases, too many for one self-contained file: the report's pictures are "
            f"files in {pictures_folder}/ beside the results (keep that folder with the report), drawn only for the cases shown here.")
