"""The README's two set-up commands are exactly what CI runs; it is short and links into the docs, which document
every plugin option."""

from __future__ import annotations

import re
from pathlib import Path

from gradcam_audit.plugin.options import OPTIONS

REPOSITORY = Path(__file__).resolve().parents[1]


def _quick_start_commands() -> list[str]:
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", quick_start)


def test_readme_quick_start_has_exactly_two_commands() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2
    assert "pytest --gradcam-specs specs/" in commands[0]
    assert commands[1].endswith("pytest -n auto --dist worksteal")  # the suite on every core: under 5 minutes on 2 idle cores


def test_ci_runs_the_readme_commands_verbatim_in_a_fresh_virtualenv() -> None:
    script = (REPOSITORY / ".ci" / "run").read_text(encoding="utf-8")
    lines = script.splitlines()
    for number, command in enumerate(_quick_start_commands(), start=1):
        marker = lines.index(f"# README-COMMAND-{number}")
        assert lines[marker + 1] == command
    assert "python3 -m venv" in script


def test_running_in_ci_page_documents_every_option() -> None:
    page = (REPOSITORY / "docs" / "running-in-ci.md").read_text(encoding="utf-8")
    for option in OPTIONS:
        assert f"`{option.flag}" in page, option.flag


def test_readme_is_short_and_links_into_the_docs() -> None:
    readme_path = REPOSITORY / "README.md"
    assert readme_path.stat().st_size <= 12_288
    readme = readme_path.read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#\s]+\.md)(?:#[^)]*)?\)", readme)
    assert links, "the README links into the docs"
    for link in links:
        assert (REPOSITORY / link).is_file(), link
    pages = {path.relative_to(REPOSITORY).as_posix() for path in (REPOSITORY / "docs").rglob("*.md")}
    assert pages <= set(links), f"docs pages the README does not link: {sorted(pages - set(links))}"
