"""The self-contained HTML audit report (Jinja2, autoescaped, no network, readable without JavaScript)."""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

from gradcam_audit.core.ledger import RunResults
from gradcam_audit.core.run_folder import write_text_atomically
from gradcam_audit.errors import UnsafePathError
from gradcam_audit.rendering.sampling import CaseSample, case_sample, sample_notice
from gradcam_audit.rendering.view_models import ReportView, build_report_view

if TYPE_CHECKING:
    from jinja2 import Environment, PackageLoader

_MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".svg": "image/svg+xml"}


def confined_picture(root: Path, name: object) -> Path | None:
    """The picture ``name`` (a path written in a results file) as a file inside ``root``, or None if it is missing.

    A results JSON may come from anywhere (a CI artefact, a colleague): the paths in it are data, never trusted.
    Only relative paths without ``..`` whose real location (symlinks resolved) stays inside ``root`` are read,
    so a crafted ``images.overlay: /etc/passwd`` can never be copied into a report. Every place that reads a
    picture for the report goes through here.

    Raises:
        UnsafePathError: the path is absolute, climbs out with ``..``, leaves ``root`` through a symlink,
            or names something that is not a regular file.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise UnsafePathError(f"{name!r} is not a relative file name")
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        raise UnsafePathError(f"{name!r} is an absolute path; pictures are read only from inside {root}")
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise UnsafePathError(f"{name!r} climbs out with '..'; pictures are read only from inside {root}")
    real_root = root.resolve()
    candidate = (real_root / name).resolve()
    if not candidate.is_relative_to(real_root):
        raise UnsafePathError(f"{name!r} leads (through a symlink) to {candidate}, outside {root}")
    if not candidate.exists():
        return None
    if not candidate.is_file():
        raise UnsafePathError(f"{name!r} is not a regular file")
    return candidate


def confined_pictures(images: dict[str, str], root: Path, warn: Callable[[str], None], context: str = "") -> dict[str, Path]:
    """The readable pictures of one case, by kind; each refused one is skipped with a warning naming it."""
    found: dict[str, Path] = {}
    for kind, name in images.items():
        try:
            path = confined_picture(root, name)
        except UnsafePathError as error:
            warn(f"{context}images.{kind}: skipped: {error}")
            continue
        if path is not None:
            found[kind] = path
    return found


def warn_on_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


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


def _confined_view(view: ReportView, base: Path, warn: Callable[[str], None]) -> dict[int, dict[str, Path]]:
    """Each case's readable pictures (by position in the view), confined to ``base``."""
    return {number: confined_pictures(case.images, base, warn, f"case {case.case_id!r}: ")
            for number, case in enumerate(view.cases)}


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


def render_html(view: ReportView, *, image_files: bool = False, sample_notice: str = "") -> str:
    """The report's HTML for ``view``; ``image_files`` lets the CSP load images that are files beside the report.

    ``sample_notice``: the sentence saying which passes a huge run's report leaves out (rendering/sampling.py).
    """
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
        sample_notice=sample_notice,
    )


# Above this, one self-contained file is too slow to open and mail; the pictures become files beside it.
INLINE_LIMIT_BYTES = 25_000_000


def inline_size_bytes(results: RunResults, base: Path) -> int:
    """About how many bytes the pictures add to an inline report (base64 is 4/3 of the file size)."""
    total = 0
    for case in results.cases:
        for picture in confined_pictures(case.images, base, lambda message: None, "").values():
            total += picture.stat().st_size
    return total * 4 // 3


def write_html_report(results: RunResults, path: Path, *, inline_images: bool = True, images_base: Path | None = None,
                      warn: Callable[[str], None] = warn_on_stderr, notes: tuple[str, ...] = (),
                      sample: CaseSample | None = None) -> Path:
    """Render the report to ``path``. Case image paths are relative to ``images_base`` (default: the report's folder).

    Pictures are read only from inside ``images_base`` (see ``confined_picture``); ``warn`` is told of each one skipped.
    ``sample``: which cases get a full view; by default every case up to SAMPLE_ABOVE_CASES, a sample of passes above.
    """
    from gradcam_audit.rendering.charts import suite_charts

    base = images_base or path.parent
    sample = sample or case_sample(len(results.cases))
    view = build_report_view(results, suite_charts(results), shown=sample.shows)
    if notes:
        view = replace(view, notes=(*view.notes, *notes))
    pictures = _confined_view(view, base, warn)
    cases = []
    for number, case in enumerate(view.cases):
        if inline_images:  # data URIs: the report is one file
            images = {kind: data_uri(picture) for kind, picture in pictures[number].items()}
        else:
            images = {kind: Path(os.path.relpath(picture, path.parent.resolve())).as_posix()
                      for kind, picture in pictures[number].items()}
        cases.append(replace(case, images=images))
    view = replace(view, cases=tuple(cases))
    if view.comparison is not None:  # the baseline's pictures beside these, read only from the baseline's folder
        from gradcam_audit.rendering.comparison_view import with_pictures

        view = replace(view, comparison=with_pictures(view.comparison, results, path, inline=inline_images, warn=warn,
                                                      candidate_images={case.anchor: case.images for case in view.cases}))
    text = render_html(view, image_files=not inline_images, sample_notice=sample_notice(sample, results.cases))
    # The one writer of outputs: never a half-written (or 0-byte) report; a full disk is one error naming the folder.
    return write_text_atomically(path, lambda handle: handle.write(text))
