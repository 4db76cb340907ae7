"""A ledger entry: one planned case or gate with its final status, the statuses an entry can have, and why one
did not run; each entry's own JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gradcam_audit.core.evaluate.gates import GateResult
from gradcam_audit.core.records.comparison import BaselineComparison
from gradcam_audit.core.records.results import CaseResult
from gradcam_audit.core.spec.model import DEFAULT_TRANSPLANT_PAIRS, Gate
from gradcam_audit.errors import ResultsError

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "id": self.id,
            "method": self.method,
            "status": self.status,
            "reason": self.reason,
            "cause": self.cause,
            "xfail": self.xfail,
            "tags": list(self.tags),
            "line": self.line,
            "result": self.result.to_dict() if self.result is not None else None,
            "images": dict(self.images),
            "nodeid": self.nodeid,
            "duration_s": self.duration_s,
            **({"baseline": self.baseline.to_dict()} if self.baseline is not None else {}),
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> CaseEntry:
        result = data.get("result")
        return CaseEntry(
            spec=str(data["spec"]),
            id=str(data["id"]),
            method=str(data["method"]),
            status=_status(data.get("status"), f"case {data.get('id')!r}"),
            reason=str(data.get("reason", "")),
            cause=str(data.get("cause", "")),
            xfail=None if data.get("xfail") is None else str(data["xfail"]),
            tags=tuple(str(tag) for tag in data.get("tags", ())),
            line=None if data.get("line") is None else int(data["line"]),
            result=CaseResult.from_dict(result) if result is not None else None,
            images={str(kind): str(path) for kind, path in dict(data.get("images", {})).items()},
            nodeid=None if data.get("nodeid") is None else str(data["nodeid"]),
            duration_s=float(data.get("duration_s", 0.0)),
            baseline=BaselineComparison.from_dict(data.get("baseline")),
        )


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "status": self.status,
            "reason": self.reason,
            "cause": self.cause,
            "xfail": self.xfail,
            "line": self.line,
            "thresholds": dict(self.thresholds),
            "methods": list(self.methods),
            "invalid_cases": self.invalid_cases,
            "result": self.result.to_dict() if self.result is not None else None,
            "nodeid": self.nodeid,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> GateEntry:
        result = data.get("result")
        return GateEntry(
            spec=str(data["spec"]),
            status=_status(data.get("status"), f"gate of {data.get('spec')!r}"),
            reason=str(data.get("reason", "")),
            cause=str(data.get("cause", "")),
            xfail=None if data.get("xfail") is None else str(data["xfail"]),
            line=None if data.get("line") is None else int(data["line"]),
            thresholds=dict(data.get("thresholds", {})),
            methods=tuple(str(method) for method in data.get("methods", ())),
            invalid_cases=int(data.get("invalid_cases", 0)),
            result=GateResult.from_dict(result) if result is not None else None,
            nodeid=None if data.get("nodeid") is None else str(data["nodeid"]),
        )


def _status(value: Any, what: str) -> str:
    if value not in STATUSES:
        raise ResultsError(f"{what}: status {value!r} is not one of {', '.join(STATUSES)}")
    return str(value)
