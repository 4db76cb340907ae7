"""The self-contained HTML audit report (Jinja2, autoescaped, no network, readable without JavaScript)."""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gradcam_audit.core.ledger.entries import CaseEntry

from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.core.files.run_folder import write_text_atomically
from gradcam_audit.errors import UnsafePathError
from gradcam_audit.rendering.pictures.picture_door import checked_picture, confined_file, door_data_uris, door_pictures
from gradcam_audit.rendering.views.sampling import CaseSample, case_sample, sample_notice
from gradcam_audit.rendering.views.view_models import CaseView, ReportView, build_report_view

if TYPE_CHECKING:
    from jinja2 import Environment, PackageLoader

def confined_picture(root: Path, name: object) -> Path | None:
    """The picture ``name`` (a path written in a results file) inside ``root``, or None if it is missing.

    Every place that reads a picture for the report goes through the picture door (rendering/pictures/picture_door.py): only
    from inside ``root`` (symlinks resolved), only when its content is a PNG/JPEG/WebP/GIF that PIL decodes, bounded.

    Raises:
        UnsafePathError: outside ``root``, not a regular file, too large, or not a picture by its content.
    """
    return checked_picture(root, name)


def confined_pictures(images: dict[str, str], root: Path, warn: Callable[[str], None], context: str = "",
                      note: Callable[[str], None] | None = None) -> dict[str, Path]:
    """The readable pictures of one case, by kind; each refused one is skipped with a warning naming it (and a note)."""
    return door_pictures(images, root, warn, context, note)


def warn_on_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


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


# A hostile results file can name a thousand non-pictures: the report lists this many skips, then counts the rest.
_LISTED_SKIPS = 20


def skipped_picture_notes(messages: list[str]) -> tuple[str, ...]:
    """The report's notes for pictures the door refused (the first few, the rest counted)."""
    if not messages:
        return ()
    listed = tuple(messages[:_LISTED_SKIPS])
    more = len(messages) - _LISTED_SKIPS
    return (*listed, f"… and {more} more pictures not shown (see the warnings).") if more > 0 else listed


DRAWN_NOTE = ("Drawn from the heatmap stored in the results (this run kept no picture files): at the layer's resolution, "
              "over the image when it could be read inside its spec's folder.")


def _entries_by_view_identity(results: RunResults) -> dict[tuple[str, str, str], CaseEntry]:
    """Each case by (suite, method, the id as the view shows it, with or without the method)."""
    entries: dict[tuple[str, str, str], CaseEntry] = {}
    for entry in results.cases:
        entries.setdefault((entry.spec, entry.method, entry.id), entry)
        entries.setdefault((entry.spec, entry.method, f"{entry.id} [{entry.method}]"), entry)
    return entries


def _drawn_case_pictures(case: CaseView, entries: dict[tuple[str, str, str], CaseEntry], warn: Callable[[str], None]) -> dict[str, str]:
    from gradcam_audit.rendering.pictures.heatmap_pictures import drawn_pictures

    entry = entries.get((case.suite, case.method, case.case_id))
    if entry is None or entry.result is None:
        return {}
    return drawn_pictures(entry.result, Path.cwd(), warn, f"case {case.case_id!r}: ")


def _environment() -> tuple[PackageLoader, Environment]:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    loader = PackageLoader("gradcam_audit.rendering.html", "templates")
    return loader, Environment(
        loader=loader,
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(view: ReportView, *, image_files: bool = False, sample_notice: str = "") -> str:
    """The report's HTML for ``view``; ``image_files`` lets the CSP load images that are files beside the report.

    ``sample_notice``: the sentence saying which passes a huge run's report leaves out (rendering/views/sampling.py).
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
    for case in results.cases:  # an estimate: where the files are, not yet what they hold (the door checks that later)
        for name in case.images.values():
            try:
                picture = confined_file(base, name)
            except UnsafePathError:
                continue
            if picture is not None:
                total += picture.stat().st_size
    return total * 4 // 3


def write_html_report(results: RunResults, path: Path, *, inline_images: bool = True, images_base: Path | None = None,
                      warn: Callable[[str], None] = warn_on_stderr, notes: tuple[str, ...] = (),
                      sample: CaseSample | None = None, draw_missing: bool = True) -> Path:
    """Render the report to ``path``. Case image paths are relative to ``images_base`` (default: the report's folder).

    Pictures pass the picture door (rendering/pictures/picture_door.py): inside ``images_base``, pictures by content, bounded;
    ``warn`` is told of each one skipped, and the report notes it.
    ``sample``: which cases get a full view; by default every case up to SAMPLE_ABOVE_CASES, a sample of passes above.
    ``draw_missing``: a case with no picture file but a stored heatmap gets pictures drawn from it
    (rendering/pictures/heatmap_pictures.py; its image is looked up from the working folder, as the run named it).
    """
    from gradcam_audit.rendering.html.charts import suite_charts

    base = images_base or path.parent
    sample = sample or case_sample(len(results.cases))
    view = build_report_view(results, suite_charts(results), shown=sample.shows)
    skipped: list[str] = []  # a skipped picture is said in the report too, not only on stderr
    entries = _entries_by_view_identity(results)
    cases = []
    for case in view.cases:
        context = f"case {case.case_id!r}: "
        if inline_images:  # data URIs of the bytes the door checked: the report is one file
            images = door_data_uris(case.images, base, warn, context, skipped.append)
        else:
            images = {kind: Path(os.path.relpath(picture, path.parent.resolve())).as_posix()
                      for kind, picture in confined_pictures(case.images, base, warn, context, skipped.append).items()}
        if not images and draw_missing:  # an inline run's or a shard's pictures are gone: draw the stored heatmap
            drawn = _drawn_case_pictures(case, entries, warn)
            if drawn:
                case = replace(case, pictures_note=DRAWN_NOTE)
            images = drawn
        cases.append(replace(case, images=images))
    view = replace(view, cases=tuple(cases))
    if view.comparison is not None:  # the baseline's pictures beside these, read only from the baseline's folder
        from gradcam_audit.rendering.views.comparison_view import with_pictures

        view = replace(view, comparison=with_pictures(view.comparison, results, path, inline=inline_images, warn=warn, note=skipped.append,
                                                      candidate_images={case.anchor: case.images for case in view.cases}))
    view = replace(view, notes=(*view.notes, *notes, *skipped_picture_notes(skipped)))
    text = render_html(view, image_files=not inline_images, sample_notice=sample_notice(sample, results.cases))
    # The one writer of outputs: never a half-written (or 0-byte) report; a full disk is one error naming the folder.
    return write_text_atomically(path, lambda handle: handle.write(text))
