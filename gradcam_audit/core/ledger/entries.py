"""A ledger entry: one planned case or gate with its final status, the statuses an entry can have, and why one
did not run; each entry's own JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from gradcam_audit.core.evaluate.gates import GateResult
from gradcam_audit.core.records.codec import JsonForm
from gradcam_audit.core.records.comparison import BaselineComparison
from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.core.spec.model import DEFAULT_TRANSPLANT_PAIRS, Gate

# Every final status an entry can have. "not_run" always comes with a cause and a reason.
STATUSES = ("passed", "failed", "error", "xfailed", "xpassed", "skipped", "not_run")
# Statuses that fail the release.
BLOCKING_STATUSES = ("failed", "error", "xpassed")

# Why an entry did not run. Only the user's own selection ("deselected": -k, -m, node ids; "other_shard") leaves
# the run complete; every other cause makes it incomplete.
NOT_RUN_CAUSES = {
    "deselected": "deselected in this run (-k, -m or a node id)",
    "other_shard": "runs in another shard (--gradcam-shard)",
    "missing_shard": "it runs in a shard whose results were not merged (is a shard's results file missing?)",
    "interrupted": "the run was interrupted (Ctrl-C) before this ran",
    "stopped_early": "the run stopped early (-x / --maxfail) before this ran",
    "cases_not_run": "some of its cases did not run in this process",
    "no_result": "it was planned but no result arrived (the run ended before it ran)",
}

SELECTION_CAUSES = ("deselected", "other_shard")


@dataclass(frozen=True)
class CaseEntry:
    """A planned case (one case with one method) and how it ended.

    ``result`` is the computation (None when the case never ran or could not be planned); ``images``,
    ``nodeid`` and ``duration_s`` are facts about this run, kept beside the result.
    """

    spec: str
    id: str
    method: str
    status: str
    reason: str = ""
    cause: str = ""  # for not_run: a key of NOT_RUN_CAUSES
    xfail: str | None = None
    tags: tuple[str, ...] = ()
    line: int | None = None
    result: CaseResult | None = None
    images: dict[str, str] = field(default_factory=dict)  # kind → path relative to the results file's folder
    nodeid: str | None = None
    duration_s: float = 0.0
    # The comparison with the baseline of a case that has no result (it errored before computing, or did not run):
    # a baseline pass that did not finish now is a regression (core/baseline/); computed cases carry theirs in result.
    baseline: BaselineComparison | None = None

    # The entry's own comparison is written only where there is one (a computed case carries its in the result).
    JSON_FORM: ClassVar[JsonForm] = JsonForm(omitted={"baseline": lambda entry: entry.baseline is None}, choices={"status": STATUSES})

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.spec, self.id, self.method)

    @property
    def comparison(self) -> BaselineComparison | None:
        """The case's comparison with its baseline case, wherever it was recorded (None: not compared)."""
        if self.result is not None and self.result.baseline is not None:
            return self.result.baseline
        return self.baseline

    # Shortcuts for renderers that only need the computation's parts.
    @property
    def regions(self) -> tuple[Any, ...]:
        return self.result.regions if self.result is not None else ()

    @property
    def target(self) -> Any:
        return self.result.target if self.result is not None else None


@dataclass(frozen=True)
class GateEntry:
    """A spec's planned gate and how it ended; ``thresholds`` let a merge of shards judge it from their cases."""

    spec: str
    status: str
    reason: str = ""
    cause: str = ""
    xfail: str | None = None
    line: int | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)  # min_pass_rate, min_mean_mass, min_mean_lift, per_class
    methods: tuple[str, ...] = ()
    invalid_cases: int = 0  # cases the loader rejected: they count as not passed
    result: GateResult | None = None
    nodeid: str | None = None

    # A merge judges the gate again from these thresholds: each must hold what the spec's gate field holds.
    JSON_FORM: ClassVar[JsonForm] = JsonForm(choices={"status": STATUSES}, checked_against={"thresholds": Gate})

    @property
    def key(self) -> str:
        return self.spec

    def gate(self) -> Gate:
        return Gate(
            min_pass_rate=self.thresholds.get("min_pass_rate"),
            min_mean_mass=self.thresholds.get("min_mean_mass"),
            min_mean_lift=self.thresholds.get("min_mean_lift"),
            per_class=bool(self.thresholds.get("per_class", False)),
            transplant=self.thresholds.get("transplant"),
            max_transplant_flip_rate=self.thresholds.get("max_transplant_flip_rate"),
            transplant_pairs=int(self.thresholds.get("transplant_pairs", DEFAULT_TRANSPLANT_PAIRS)),
            max_randomization_similarity=self.thresholds.get("max_randomization_similarity"),
            max_outside_dependence_rate=self.thresholds.get("max_outside_dependence_rate"),
        )
