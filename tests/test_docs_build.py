"""The docs site (mkdocs.yml + docs/) builds offline with warnings as errors, its search index holds the key
terms, every relative link between its pages resolves, and the Python API page names every public parameter."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
DOCS = REPOSITORY / "docs"

# A Markdown link or image target: [text](target) / ![alt](target); titles after a space are not part of it.
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def _mkdocs_available() -> bool:
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _mkdocs_available(), reason='mkdocs / mkdocs-material not installed (pip install -e ".[docs]")')
def test_docs_build_strictly_offline_with_a_search_index(tmp_path: Path) -> None:
    site = tmp_path / "site"
    # NO_MKDOCS_2_WARNING silences Material's end-of-life banner; no proxy so that any attempt to fetch fails.
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPOSITORY / "mkdocs.yml"), "--site-dir", str(site)],
        capture_output=True, text=True, timeout=300, env=environment, cwd=REPOSITORY, check=False,
    )
    assert completed.returncode == 0, f"mkdocs build --strict failed:\n{completed.stdout}\n{completed.stderr}"
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    text = " ".join(document["text"] + " " + document["title"] for document in index["docs"])
    for term in ("min_mass", "max_effect", "--gradcam-baseline", "--gradcam-shard", "resize_filter", "incomplete_reasons",
                 "assert_attention", "transplant"):
        assert term in text, f"the search index lacks {term!r}"
    # Every page of docs/ is in the site (none left out of the navigation by mistake).
    for page in DOCS.rglob("*.md"):
        relative = page.relative_to(DOCS).with_suffix("")
        built = site / ("index.html" if relative.name == "index" else relative / "index.html")
        assert built.is_file(), f"{page} was not built"
    # Offline: no page asks a browser for fonts or scripts from elsewhere.
    for html in site.rglob("*.html"):
        assert "fonts.googleapis.com" not in html.read_text(encoding="utf-8"), html


def _relative_links(page: Path) -> list[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
    return [target for target in _LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]


def _anchors(page: Path) -> set[str]:
    # MkDocs' toc slugs: lower case, punctuation dropped, runs of spaces and hyphens to one hyphen.
    anchors = set()
    for line in _FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip()
            slug = re.sub(r"[-\s]+", "-", re.sub(r"[^\w\- ]", "", title.lower()).strip())  # "init --model" → "init-model"
            anchors.add(slug)
    return anchors


def test_every_relative_link_in_the_docs_resolves() -> None:
    pages = sorted(DOCS.rglob("*.md"))
    assert pages
    checked = 0
    for page in pages:
        for target in _relative_links(page):
            path_part, _, anchor = target.partition("#")
            linked = (page.parent / path_part).resolve() if path_part else page
            assert linked.is_file(), f"{page.relative_to(REPOSITORY)}: link {target!r} points at nothing"
            assert DOCS in linked.parents or linked == DOCS, f"{page.relative_to(REPOSITORY)}: link {target!r} leaves docs/"
            if anchor and linked.suffix == ".md":
                assert anchor in _anchors(linked), f"{page.relative_to(REPOSITORY)}: link {target!r}: no heading #{anchor}"
            checked += 1
    assert checked > 10, "the docs are expected to link their pages to each other"


def _public_api() -> dict[str, str]:
    tree = ast.parse((REPOSITORY / "gradcam_audit" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and "_PUBLIC" in ast.unparse(node.targets[0] if isinstance(node, ast.Assign) else node.target):
            value = ast.literal_eval(node.value)  # type: ignore[arg-type]
            assert isinstance(value, dict)
            return value
    raise AssertionError("gradcam_audit/__init__.py has no _PUBLIC table")


def _parameters(module: str, name: str) -> list[str]:
    path = REPOSITORY / (module.replace(".", "/") + ".py")
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            arguments = node.args
            return [argument.arg for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]]
        if isinstance(node, ast.ClassDef) and node.name == name:
            return [statement.target.id for statement in node.body
                    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)]
    raise AssertionError(f"{module} has no {name}")


def test_python_api_page_documents_every_public_name_and_parameter() -> None:
    page = (DOCS / "python-api.md").read_text(encoding="utf-8")
    sections = {match.group(1): match.start() for match in re.finditer(r"^## `(\w+)`", page, re.MULTILINE)}
    public = _public_api()
    assert set(sections) == set(public), f"the Python API page's sections {sorted(sections)} differ from gradcam_audit's public names {sorted(public)}"
    bounds = sorted(sections.values()) + [len(page)]
    for name, module in public.items():
        start = sections[name]
        section = page[start : bounds[bounds.index(start) + 1]]
        assert f"`{module}`" in section, f"the Python API page's `{name}` section does not name its module {module}"
        for parameter in _parameters(module, name):
            assert f"`{parameter}`" in section, f"the Python API page's `{name}` section does not describe `{parameter}`"
