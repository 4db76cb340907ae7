"""The plugin's options: every --gradcam-* flag has an ini twin of the same name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DEFAULT_REPORT = "reports/gradcam/index.html"


@dataclass(frozen=True)
class _Option:
    flag: str
    ini_type: str | None
    help: str
    default: Any
    kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


OPTIONS: tuple[_Option, ...] = (
    _Option("--gradcam-specs", "paths", "spec files or directories to audit (repeatable; also outside testpaths)", None,
            (("action", "append"), ("metavar", "PATH"))),
    _Option("--gradcam-report", "string", f"HTML report path (default {DEFAULT_REPORT})", DEFAULT_REPORT, (("metavar", "PATH"),)),
    _Option("--gradcam-dossier", "string", "also write a print-ready PDF dossier here (verdict, suites, failures, manifest of hashes; "
            "needs headless Chromium) and manifest.json beside the JSON results", None, (("metavar", "PATH"),)),
    _Option("--gradcam-json", "string", "JSON results path (default: results.json beside the report)", None, (("metavar", "PATH"),)),
    _Option("--gradcam-batch-size", "string", "images per forward pass (default 32)", "32", (("metavar", "N"),)),
    _Option("--gradcam-executor", "string", "how cases are computed: local (default: the next batch is computed while this one's pictures "
            "are drawn), serial, or ray (Ray Data; pip install -e '.[ray]')", "local", (("metavar", "NAME"),)),
    _Option("--gradcam-ray-address", "string", "the Ray cluster for --gradcam-executor ray (default: RAY_ADDRESS, else a local one)", None,
            (("metavar", "ADDRESS"),)),
    _Option("--gradcam-method", "string", "run every case with this CAM method instead of the spec's", None, (("metavar", "NAME"),)),
    _Option("--gradcam-resize-filter", "string", "resampling filter for specs that name no resize_filter: bilinear (default), nearest, "
            "bicubic or area", None, (("metavar", "FILTER"),)),
    _Option("--gradcam-no-report", "bool", "write no HTML report and no overlay images", False, (("action", "store_true"),)),
    _Option("--gradcam-report-images", "string", "'inline' (one self-contained file, default) or 'files' (images beside the HTML)",
            "inline", (("metavar", "MODE"), ("choices", ("inline", "files")))),
    _Option("--gradcam-overlay-colormap", "string", "matplotlib colormap of the heatmap overlays (default jet)", "jet", (("metavar", "NAME"),)),
    _Option("--gradcam-overlay-alpha", "string", "weight of the heatmap in the overlay blend, 0–1 (default 0.4)", "0.4", (("metavar", "ALPHA"),)),
    # WebP by default: about half the bytes of a JPEG of the same quality, so a single-file report stays small enough to mail.
    _Option("--gradcam-image-format", "string", "format of the case pictures: webp (default) or jpeg", "webp", (("metavar", "FORMAT"),)),
    _Option("--gradcam-shard", "string", "run shard K of N (e.g. 2/4): every N-th audit item; merge the JSON files with `gradcam-audit report`",
            None, (("metavar", "K/N"),)),
    _Option("--gradcam-progress-every", "string", "seconds between audit progress lines (default 10; 0 = none)", "10",
            (("metavar", "SECONDS"),)),
    _Option("--gradcam-baseline", "paths", "compare with a baseline: the released model's results.json, its shard JSONs or their folder (repeatable)",
            None, (("action", "append"), ("metavar", "PATH"))),
    _Option("--gradcam-baseline-rule", "linelist", "a regression rule against the baseline, e.g. max_mass_rise=0.05 (repeatable; specs' `baseline:` win)",
            None, (("action", "append"), ("metavar", "KEY=VALUE"))),
    _Option("--gradcam-override", "linelist", "exploratory runs: replace a threshold everywhere it is set, e.g. min_lift=1.0 (repeatable)",
            None, (("action", "append"), ("metavar", "KEY=VALUE"))),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcam", "gradcam_audit: Grad-CAM attention audits from YAML specs")
    for option in OPTIONS:
        kwargs = dict(option.kwargs)
        group.addoption(option.flag, dest=option.name, default=None, help=option.help, **kwargs)
        parser.addini(option.name, help=option.help, type=option.ini_type, default=option.default)  # type: ignore[arg-type]


def get(config: pytest.Config, name: str) -> Any:
    """The command-line value if given, else the ini value (whose default is the option's default)."""
    value = config.getoption(name)
    if value not in (None, [], False):
        return value
    return config.getini(name)


@dataclass(frozen=True)
class Settings:
    """Resolved plugin settings for one run."""

    spec_paths: tuple[Path, ...]
    report: Path | None
    json_path: Path
    batch_size: int
    method: str | None
    report_images: str
    overrides: dict[str, float]
    shard: tuple[int, int] | None = None
    progress_every_s: float = 10.0
    overlay_style: Any = None  # rendering.overlay.OverlayStyle, built lazily so --help stays fast
    baseline: Any = None  # core.baseline.Baseline (--gradcam-baseline), read only when there are specs
    baseline_rules: tuple[tuple[str, Any], ...] = ()  # --gradcam-baseline-rule, checked
    resize_filter: str | None = None  # --gradcam-resize-filter: the default for specs that name none
    executor: str = "local"
    ray_address: str | None = None
    # --gradcam-no-report: where the report would be, when that is beside results.json (a folder this run locks). A
    # previous run's report there is moved aside like the results: no old HTML keeps saying PASSED beside this run's.
    unwritten_report: Path | None = None
    dossier: Path | None = None  # --gradcam-dossier: the PDF dossier (rendering/html/dossier.py)

    @property
    def results_folder(self) -> Path:
        """Where results.json lives; case pictures are written below it and named relative to it."""
        return self.json_path.parent

    @property
    def journal_path(self) -> Path:
        """The JSON Lines journal beside results.json (each entry as it finishes)."""
        return self.json_path.with_suffix(".jsonl")

    @property
    def output_paths(self) -> tuple[Path, ...]:
        """Every file a run writes as its record: locked and superseded together when the run starts."""
        return (self.json_path, self.journal_path) + ((self.report,) if self.report is not None else ())

    @property
    def superseded_paths(self) -> tuple[Path, ...]:
        """The previous run's files moved aside when this run starts: its outputs, and a report it no longer writes."""
        return self.output_paths + ((self.unwritten_report,) if self.unwritten_report is not None else ())


def read_settings(config: pytest.Config, extra_spec_paths: tuple[Path, ...] = ()) -> Settings:
    from gradcam_audit.core.engine.methods import METHOD_NAMES
    from gradcam_audit.core.engine.method_names import RESIZE_FILTERS

    invocation = config.invocation_params.dir
    # Command-line paths are relative to where pytest was started; ini paths (and the default report) to the ini
    # file's folder, so a run from a subfolder finds the same specs and writes the same report. Without an ini file,
    # the folder pytest started in: never pytest's rootdir, which a path argument such as `--gradcam-baseline ../x`
    # moves up, out of the project.
    ini_base = config.inipath.parent if config.inipath else invocation
    command_line = config.getoption("gradcam_specs") or []
    spec_paths = tuple((invocation / path).resolve() for path in command_line)
    if not spec_paths:
        spec_paths = tuple((ini_base / str(path)).resolve() for path in (config.getini("gradcam_specs") or []))
    spec_paths = tuple(dict.fromkeys((*spec_paths, *extra_spec_paths)))
    report_value, report_base = _path_option(config, "gradcam_report", invocation, ini_base)
    report = None if get(config, "gradcam_no_report") else (report_base / report_value).resolve()
    json_value, json_base = _path_option(config, "gradcam_json", invocation, ini_base)
    json_path = (json_base / json_value).resolve() if json_value else (report_base / report_value).resolve().parent / "results.json"
    try:
        batch_size = int(get(config, "gradcam_batch_size"))
        if batch_size < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise pytest.UsageError(f"--gradcam-batch-size must be a whole number ≥ 1, got {get(config, 'gradcam_batch_size')!r}") from None
    method = get(config, "gradcam_method") or None
    if method is not None and method not in METHOD_NAMES:
        raise pytest.UsageError(f"--gradcam-method {method!r} is not one of: {', '.join(METHOD_NAMES)}")
    resize_filter = get(config, "gradcam_resize_filter") or None
    if resize_filter is not None and resize_filter not in RESIZE_FILTERS:
        raise pytest.UsageError(f"--gradcam-resize-filter {resize_filter!r} is not one of: {', '.join(RESIZE_FILTERS)} "
                                "(the filter your model was trained with; bilinear when unsure)")
    executor, ray_address = _executor_option(config)
    from gradcam_audit.core.plan import OverrideError, parse_overrides

    try:
        overrides = parse_overrides(get(config, "gradcam_override") or [])
    except OverrideError as error:
        raise pytest.UsageError(str(error)) from None
    images = str(get(config, "gradcam_report_images") or "inline")
    if images not in ("inline", "files"):
        raise pytest.UsageError(f"gradcam_report_images must be 'inline' or 'files', got {images!r}")
    shard = _parse_shard(get(config, "gradcam_shard"))
    progress_text = get(config, "gradcam_progress_every")
    try:
        progress_every = float(progress_text)
        if not progress_every >= 0 or progress_every == float("inf"):
            raise ValueError
    except (TypeError, ValueError):
        raise pytest.UsageError(f"--gradcam-progress-every {progress_text!r}: expected a number of seconds ≥ 0, e.g. 10") from None
    # Without specs nothing is drawn: skip building the style, which imports matplotlib (keeps `pytest --help` fast).
    style = _overlay_style(config, report) if spec_paths else None
    from gradcam_audit.plugin.baseline_option import read_baseline_option

    baseline, baseline_rules = read_baseline_option(config, invocation, ini_base) if spec_paths else (None, ())
    return Settings(spec_paths, report, json_path, batch_size, method, images, overrides, shard, progress_every, style, baseline=baseline, baseline_rules=baseline_rules,
                    resize_filter=resize_filter, executor=executor, ray_address=ray_address,
                    unwritten_report=_unwritten_report(report, (report_base / report_value).resolve(), json_path),
                    dossier=_dossier_option(config, invocation, ini_base) if spec_paths else None)


def _unwritten_report(report: Path | None, would_be: Path, json_path: Path) -> Path | None:
    return would_be if report is None and would_be.parent == json_path.parent else None


def _dossier_option(config: pytest.Config, invocation: Path, ini_base: Path) -> Path | None:
    """--gradcam-dossier: a .pdf path, with a PDF engine present, checked before any model runs."""
    value, base = _path_option(config, "gradcam_dossier", invocation, ini_base)
    if not value:
        return None
    if Path(value).suffix.lower() != ".pdf":
        raise pytest.UsageError(f"--gradcam-dossier {value!r}: give a .pdf file name, e.g. reports/gradcam/dossier.pdf")
    from gradcam_audit.rendering.html.dossier import DossierEngineMissing, find_chromium

    try:
        find_chromium()
    except DossierEngineMissing as error:
        raise pytest.UsageError(f"--gradcam-dossier: {error}") from None
    return (base / value).resolve()


def _executor_option(config: pytest.Config) -> tuple[str, str | None]:
    """--gradcam-executor and --gradcam-ray-address, checked before anything runs."""
    import importlib.util

    from gradcam_audit.core.run.runner import EXECUTORS

    executor = str(get(config, "gradcam_executor") or "local")
    if executor not in EXECUTORS:
        raise pytest.UsageError(f"--gradcam-executor {executor!r} is not one of: {', '.join(EXECUTORS)}")
    address = get(config, "gradcam_ray_address") or os.environ.get("RAY_ADDRESS") or None
    if executor == "ray":
        if importlib.util.find_spec("ray") is None:
            raise pytest.UsageError("--gradcam-executor ray needs Ray Data: install the extra with pip install -e '.[ray]'")
        if getattr(config.option, "numprocesses", None):
            raise pytest.UsageError("--gradcam-executor ray already spreads the cases over the Ray cluster; drop -n (pytest-xdist)")
    return executor, address


def _overlay_style(config: pytest.Config, report: Path | None) -> Any:
    if report is None:
        return None
    from gradcam_audit.errors import GradcamAuditError
    from gradcam_audit.rendering.pictures.overlay import OverlayStyle

    alpha_text = get(config, "gradcam_overlay_alpha")
    try:
        alpha = float(alpha_text)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"--gradcam-overlay-alpha {alpha_text!r} is not a number between 0 and 1") from None
    try:
        return OverlayStyle(colormap=str(get(config, "gradcam_overlay_colormap")), alpha=alpha,
                            image_format=str(get(config, "gradcam_image_format")))
    except GradcamAuditError as error:
        raise pytest.UsageError(str(error)) from None


def _path_option(config: pytest.Config, name: str, invocation: Path, ini_base: Path) -> tuple[str, Path]:
    """The option's value and the folder it is relative to (the invocation folder, or the ini file's)."""
    value = config.getoption(name)
    if value:
        return str(value), invocation
    ini_value = config.getini(name)
    return (str(ini_value) if ini_value else ""), ini_base


def check_writable(settings: Settings) -> None:
    """Fail before any model runs when the results or the report cannot be written (pytest's usage error, exit 4)."""
    targets = [settings.json_path] + ([settings.report] if settings.report is not None else []) + (
        [settings.dossier] if settings.dossier is not None else [])
    for target in targets:
        folder = target.parent
        blocker = next((parent for parent in (folder, *folder.parents) if parent.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise pytest.UsageError(f"cannot write {target}: {blocker} is a file, not a folder; choose another path with "
                                    "--gradcam-report / --gradcam-json (or remove the file)")
        if target.is_dir():
            raise pytest.UsageError(f"cannot write {target}: it is a folder; give a file name such as {target / 'index.html'}")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".gradcam-write-check-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise pytest.UsageError(f"cannot write to {folder} ({error.strerror or error}); choose a writable place with "
                                    "--gradcam-report / --gradcam-json, or fix the folder's permissions") from None


def _parse_shard(value: Any) -> tuple[int, int] | None:
    if not value:
        return None
    index_text, _, count_text = str(value).partition("/")
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        index, count = 0, 0
    if not 1 <= index <= count:
        raise pytest.UsageError(f"--gradcam-shard {value!r}: expected K/N with 1 ≤ K ≤ N, e.g. 1/4")
    return index, count
