"""The docs site's spec reference page is the generator's output, byte for byte, like the README's block."""

from __future__ import annotations

import os

from gradcam_audit.core.spec.fields import sections
from gradcam_audit.core.spec.reference import docs_reference_page, spec_reference
from tests.spec.helpers import REPOSITORY

DOCS_PAGE = REPOSITORY / "docs" / "reference" / "spec.md"


def test_docs_spec_reference_page_equals_the_generated_one() -> None:
    if os.environ.get("GRADCAM_AUDIT_REGENERATE") == "1":
        DOCS_PAGE.write_text(docs_reference_page(), encoding="utf-8")
    assert DOCS_PAGE.read_text(encoding="utf-8") == docs_reference_page(), (
        f"{DOCS_PAGE} is out of date; run GRADCAM_AUDIT_REGENERATE=1 pytest tests/spec "
        "(or python -m gradcam_audit.core.spec.reference) to rewrite it"
    )


def test_docs_page_is_the_readme_reference_one_heading_level_up() -> None:
    page = docs_reference_page()
    assert page.startswith("# Spec reference\n")
    for section in sections():
        assert f"\n## `{section}`\n" in page
    # Only the headings differ: the README's block and the page say the same thing.
    assert page.replace("\n## `", "\n### `").replace("# Spec reference", "## Spec reference", 1) == spec_reference()
