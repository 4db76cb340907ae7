"""The self-contained HTML audit report (Jinja2, autoescaped, no network, readable without JavaScript)."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gradcam_audit.core.results import RunResults
from gradcam_audit.rendering.view_models import ReportView, build_report_view

if TYPE_CHECKING:
    from jinja2 import Environment, PackageLoader

_MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".svg": "image/svg+xml"}


def data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def content_security_policy(script: str, style: str, *, image_files: bool) -> str:
    """Nothing from the network; only our own inline script and style (by hash); images inline, or beside the report.

    ``'self'`` covers images beside a report served over HTTP(S), and beside a report opened from disk in Chromium
    (checked by tests/report/test_browser.py); ``file:`` covers browsers that give file:// pages an opaque origin.
    Neither reaches the network.
    """

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"

    images = "data: 'self' file:" if image_files else "data:"
    return (f"default-src 'none'; img-src {images}; style-src {digest(style)}; script-src {digest(script)}; "
            "base-uri 'none'; form-action 'none'")


def _inline_images(view: ReportView, base: Path) -> ReportView:
    """Replace image paths (relative to the report) by data URIs so the report is one file."""
    cases = []
    for case in view.cases:
        images = {kind: data_uri(base / path) for kind, path in case.images.items() if (base / path).is_file()}
        cases.append(replace(case, images=images))
    return replace(view, cases=tuple(cases))


def _environment() -> tuple[PackageLoader, Environment]:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    loader = PackageLoader("gradcam_audit.rendering", "templates")
    return loader, Environment(
        loader=loader,
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(view: ReportView, *, image_files: bool = False) -> str:
    """The report's HTML for ``view``; ``image_files`` lets the CSP load images that are files beside the report."""
    from markupsafe import Markup

    loader, environment = _environment()
    # Our own static files (named .j2 only so package data ships them), never rendered: inserted verbatim so the
    # CSP hashes match what the browser sees.
    script = loader.get_source(environment, "report.js.j2")[0]
    style = loader.get_source(environment, "report.css.j2")[0]
    return environment.get_template("report.html.j2").render(
        report=view,
        csp=content_security_policy(script, style, image_files=image_files),
        script=Markup(script),
        style=Markup(style),
    )


def write_html_report(results: RunResults, path: Path, *, inline_images: bool = True, images_base: Path | None = None) -> Path:
    """Render the report to ``path``. Case image paths are relative to ``images_base`` (default: the report's folder)."""
    from gradcam_audit.rendering.charts import suite_charts

    path.parent.mkdir(parents=True, exist_ok=True)
    base = images_base or path.parent
    view = build_report_view(results, suite_charts(results))
    if inline_images:
        view = _inline_images(view, base)
    else:
        relocated = []
        for case in view.cases:
            images = {kind: Path(os.path.relpath(base / image, path.parent)).as_posix()
                      for kind, image in case.images.items() if (base / image).is_file()}
            relocated.append(replace(case, images=images))
        view = replace(view, cases=tuple(relocated))
    path.write_text(render_html(view, image_files=not inline_images), encoding="utf-8")
    return path
