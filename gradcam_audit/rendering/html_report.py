"""The self-contained HTML audit report (Jinja2, autoescaped, no network, readable without JavaScript)."""

from __future__ import annotations

import base64
import os
from dataclasses import replace
from pathlib import Path

from gradcam_audit.core.results import RunResults
from gradcam_audit.rendering.view_models import ReportView, build_report_view

_MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".svg": "image/svg+xml"}


def data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _inline_images(view: ReportView, base: Path) -> ReportView:
    """Replace image paths (relative to the report) by data URIs so the report is one file."""
    cases = []
    for case in view.cases:
        images = {kind: data_uri(base / path) for kind, path in case.images.items() if (base / path).is_file()}
        cases.append(replace(case, images=images))
    return replace(view, cases=tuple(cases))


def render_html(view: ReportView) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=PackageLoader("gradcam_audit.rendering", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("report.html.j2").render(report=view)


def write_html_report(results: RunResults, path: Path, *, inline_images: bool = True, images_base: Path | None = None) -> Path:
    """Render the report to ``path``. Case image paths are relative to ``images_base`` (default: the report's folder)."""
    from gradcam_audit.rendering.charts import suite_charts

    path.parent.mkdir(parents=True, exist_ok=True)
    base = images_base or path.parent
    view = build_report_view(results, suite_charts(results))
    if inline_images:
        view = _inline_images(view, base)
    elif base != path.parent:
        relocated = []
        for case in view.cases:
            images = {kind: os.path.relpath(base / image, path.parent) for kind, image in case.images.items()}
            relocated.append(replace(case, images=images))
        view = replace(view, cases=tuple(relocated))
    path.write_text(render_html(view), encoding="utf-8")
    return path
