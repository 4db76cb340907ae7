"""The HTML itself, parsed: hostile text stays text, nothing points at the network, the CSP is present and matches."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gradcam_audit.core.ledger.run_results import RunResults
from gradcam_audit.rendering.html.html_report import write_html_report
from tests.report.synthetic import HOSTILE, fixed_results, hostile_results


class Parsed(HTMLParser):
    """Elements, attributes, text and script bodies of a document."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._inside: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))
        if tag in ("script", "style"):
            self._inside = tag
            (self.scripts if tag == "script" else self.styles).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inside:
            self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside == "script":
            self.scripts[-1] += data
        elif self._inside == "style":
            self.styles[-1] += data
        else:
            self.text.append(data)

    def tags(self, name: str) -> list[dict[str, str]]:
        return [attributes for tag, attributes in self.elements if tag == name]


def _render(results: RunResults, tmp_path: Path, **options: object) -> str:
    return write_html_report(results, tmp_path / "index.html", **options).read_text(encoding="utf-8")  # type: ignore[arg-type]


def test_hostile_names_ids_labels_paths_and_reasons_render_as_text(tmp_path: Path) -> None:
    html = _render(hostile_results(), tmp_path)
    parsed = Parsed(html)
    assert len(parsed.tags("script")) == 1  # ours, nothing injected
    assert parsed.tags("textarea") == []
    assert not any(name.startswith("on") for _, attributes in parsed.elements for name in attributes)
    text = "".join(parsed.text)
    assert "<script>alert(1)</script>" in text  # shown literally...
    assert "{{ 7*7 }}" in text and "{% raw %}" in text and "ünïcödé ✓ 猫" in text  # ...template syntax not evaluated
    assert "<script>alert(1)</script>" not in html  # ...because it is escaped in the source
    articles = parsed.tags("article")
    assert articles[0]["data-id"] == HOSTILE and articles[0]["data-suite"] == f"specs/{HOSTILE}.yaml"
    assert any(option.get("value") == HOSTILE for option in parsed.tags("option"))
    # The degenerate reason is shown, escaped, in the case's story.
    assert any(f"no usable heatmap — {HOSTILE}" in chunk for chunk in parsed.text)


def test_no_network_urls_and_a_csp_that_forbids_network_loads(tmp_path: Path) -> None:
    html = _render(fixed_results(), tmp_path)
    parsed = Parsed(html)
    for tag, attributes in parsed.elements:
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            value = attributes.get(name, "")
            assert not re.match(r"\s*(https?:|//|\\\\)", value, re.IGNORECASE), (tag, name, value[:80])
    assert "http://" not in html and "https://" not in html
    metas = [meta for meta in parsed.tags("meta") if meta.get("http-equiv", "").lower() == "content-security-policy"]
    assert len(metas) == 1
    policy = dict(directive.strip().split(" ", 1) for directive in metas[0]["content"].split(";") if directive.strip())
    assert policy["default-src"] == "'none'"
    assert policy["img-src"] == "data:"  # single-file report: nothing but inline pictures
    assert policy["base-uri"] == "'none'" and policy["form-action"] == "'none'"
    assert "unsafe-inline" not in metas[0]["content"]

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"

    # The hashes allow exactly the script and style in the file (a changed template would otherwise break silently).
    assert policy["script-src"] == digest(parsed.scripts[0])
    assert policy["style-src"] == digest(parsed.styles[0])


def test_files_mode_csp_allows_images_beside_the_report_and_nothing_remote(tmp_path: Path) -> None:
    html = _render(fixed_results(), tmp_path, inline_images=False)
    content = Parsed(html).tags("meta")[1]["content"]
    assert "img-src data: 'self' file:;" in content and "default-src 'none'" in content


def test_case_pictures_are_inlined_as_data_uris(report_file: Path) -> None:
    parsed = Parsed(report_file.read_text(encoding="utf-8"))
    sources = [image["src"] for image in parsed.tags("img")]
    case_sources = [source for source in sources if source.startswith("data:image/jpeg;base64,")]
    # Six cases ran (pictures with regions); five of them have a usable heatmap (overlay); error and skipped have none.
    assert len(case_sources) == 6 + 5
    assert all(source.startswith("data:image/") for source in sources)
    text = " ".join(Parsed(report_file.read_text(encoding="utf-8")).text)
    assert "No heatmap overlay: the heatmap is degenerate" in text


@pytest.mark.parametrize(("case_id", "expected"), [
    ("cat-002", "Failed: only 12% of the attention fell on “cat” (at least 30% required); "),
    ("dog-001", "Failed: the model predicted “fox”, but the expected class is “dog”; the heatmap's hottest point is outside “dog”."),
    ("dog-002", "Failed: no usable heatmap — all-zero heatmap"),
    ("dog-003", "Could not be checked: image not found: images/dog-003.jpg."),
])
def test_each_failing_case_tells_its_story_in_words(report_file: Path, case_id: str, expected: str) -> None:
    parsed = Parsed(report_file.read_text(encoding="utf-8"))
    text = " ".join(" ".join(parsed.text).split())
    assert expected in text


def test_failed_cases_come_first_and_the_verdict_counts_cases_and_gates(report_file: Path) -> None:
    parsed = Parsed(report_file.read_text(encoding="utf-8"))
    statuses = [article["data-status"] for article in parsed.tags("article")]
    assert statuses == ["failed", "failed", "failed", "error", "xpassed", "xfailed", "skipped", "passed"]
    assert "Release gate FAILED: 5 of 8 cases, 1 of 2 gates" in "".join(parsed.text)
