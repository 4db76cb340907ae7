"""Result objects and their versioned JSON form (schema 1), the contract other tools read."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gradcam_audit.core.scoring import RegionScore
from gradcam_audit.errors import ResultsError

SCHEMA_VERSION = 1
STATUSES = ("passed", "failed", "error", "xfailed", "xpassed", "skipped")


@dataclass(frozen=True)
class ClassInfo:
    """A class with, where known, its probability (``score``) and the raw score explained (``logit``)."""

    index: int
    label: str | None
    score: float | None = None
    logit: float | None = None

    @property
    def name(self) -> str:
        """The label, or "class N" when the spec gave no labels."""
        return self.label if self.label is not None else f"class {self.index}"


@dataclass(frozen=True)
class CaseResult:
    """One case run with one method. ``status`` is the final pytest-level outcome (see STATUSES)."""

    spec: str
    id: str
    method: str
    status: str
    reason: str = ""
    layer: str | None = None
    layer_reason: str | None = None
    score_kind: str | None = None
    predicted: ClassInfo | None = None
    target: ClassInfo | None = None
    expect_class: ClassInfo | None = None
    regions: tuple[RegionScore, ...] = ()
    degenerate: str | None = None
    image: str | None = None
    image_size: tuple[int, int] | None = None
    model: str | None = None
    model_sha256: str | None = None
    preprocess: str | None = None
    resize: str | None = None
    tags: tuple[str, ...] = ()
    xfail: str | None = None
    duration_s: float = 0.0
    images: dict[str, str] = field(default_factory=dict)  # "overlay" / "regions": paths relative to the report
    nodeid: str | None = None

    def with_status(self, status: str, reason: str | None = None) -> CaseResult:
        return replace(self, status=status, reason=self.reason if reason is None else reason)


@dataclass(frozen=True)
class GateResult:
    """A suite-level gate over one spec's cases."""

    spec: str
    status: str
    reason: str
    pass_rate: float | None
    mean_mass: float | None
    mean_lift: float | None
    min_pass_rate: float | None
    min_mean_mass: float | None
    min_mean_lift: float | None
    per_class: dict[str, dict[str, float | None]] = field(default_factory=dict)
    cases_counted: int = 0


def _class_info(data: Any) -> ClassInfo | None:
    if data is None:
        return None
    return ClassInfo(index=int(data["index"]), label=data.get("label"), score=data.get("score"), logit=data.get("logit"))


def case_to_dict(result: CaseResult) -> dict[str, Any]:
    data = asdict(result)
    data["regions"] = [asdict(region) for region in result.regions]
    data["image_size"] = list(result.image_size) if result.image_size else None
    data["tags"] = list(result.tags)
    return data


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Only the keys this version knows: later versions may add keys without a new schema number."""
    names = {item.name for item in fields(cls)}
    return {key: value for key, value in data.items() if key in names}


def case_from_dict(data: dict[str, Any]) -> CaseResult:
    if data.get("status") not in STATUSES:
        raise ResultsError(f"case {data.get('id')!r}: status {data.get('status')!r} is not one of {', '.join(STATUSES)}")
    try:
        regions = tuple(
            RegionScore(
                **{
                    **_known_fields(RegionScore, region),
                    "failures": tuple(region.get("failures", ())),
                    "outline": tuple(tuple(point) for point in region.get("outline", ())),
                }
            ) for region in data.get("regions", [])
        )
        return CaseResult(
            spec=data["spec"],
            id=str(data["id"]),
            method=data["method"],
            status=data["status"],
            reason=data.get("reason", ""),
            layer=data.get("layer"),
            layer_reason=data.get("layer_reason"),
            score_kind=data.get("score_kind"),
            predicted=_class_info(data.get("predicted")),
            target=_class_info(data.get("target")),
            expect_class=_class_info(data.get("expect_class")),
            regions=regions,
            degenerate=data.get("degenerate"),
            image=data.get("image"),
            image_size=tuple(data["image_size"]) if data.get("image_size") else None,
            model=data.get("model"),
            model_sha256=data.get("model_sha256"),
            preprocess=data.get("preprocess"),
            resize=data.get("resize"),
            tags=tuple(data.get("tags", ())),
            xfail=data.get("xfail"),
            duration_s=float(data.get("duration_s", 0.0)),
            images=dict(data.get("images", {})),
            nodeid=data.get("nodeid"),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ResultsError(f"case entry is missing or has a bad field ({error}): {str(data)[:200]}") from None


def gate_to_dict(gate: GateResult) -> dict[str, Any]:
    return asdict(gate)


def gate_from_dict(data: dict[str, Any]) -> GateResult:
    try:
        return GateResult(**_known_fields(GateResult, data))
    except TypeError as error:
        raise ResultsError(f"gate entry has unexpected fields ({error})") from None


@dataclass(frozen=True)
class RunResults:
    """Everything one run produced: cases, gates and provenance."""

    cases: tuple[CaseResult, ...]
    gates: tuple[GateResult, ...] = ()
    started: str = ""
    duration_s: float = 0.0
    command: str = ""
    versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "started": self.started,
            "duration_s": self.duration_s,
            "command": self.command,
            "versions": self.versions,
            "cases": [case_to_dict(case) for case in self.cases],
            "gates": [gate_to_dict(gate) for gate in self.gates],
        }

    @staticmethod
    def from_dict(data: Any, source: str = "results") -> RunResults:
        if not isinstance(data, dict) or "cases" not in data:
            raise ResultsError(f"{source}: not a gradcam_audit results file (no 'cases' key)")
        if data.get("schema") != SCHEMA_VERSION:
            raise ResultsError(f"{source}: results schema {data.get('schema')!r} is not supported (expected {SCHEMA_VERSION})")
        return RunResults(
            cases=tuple(case_from_dict(case) for case in data["cases"]),
            gates=tuple(gate_from_dict(gate) for gate in data.get("gates", [])),
            started=data.get("started", ""),
            duration_s=float(data.get("duration_s", 0.0)),
            command=data.get("command", ""),
            versions=dict(data.get("versions", {})),
        )


def write_results(results: RunResults, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")


def read_results(path: Path) -> RunResults:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"results file not found: {path}") from None
    except json.JSONDecodeError as error:
        raise ResultsError(f"{path}: not valid JSON (line {error.lineno}: {error.msg})") from None
    return RunResults.from_dict(data, str(path))


def merge_results(runs: list[RunResults]) -> RunResults:
    """One run from several shards: cases and gates concatenated, provenance from the first."""
    if not runs:
        return RunResults(cases=())
    return RunResults(
        cases=tuple(case for run in runs for case in run.cases),
        gates=tuple(gate for run in runs for gate in run.gates),
        started=min(run.started for run in runs),
        duration_s=max(run.duration_s for run in runs),
        command=runs[0].command,
        versions=runs[0].versions,
    )
