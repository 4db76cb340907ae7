"""The docs site's spec reference page is the generator's output, byte for byte, one section per spec section."""

from __future__ import annotations

import os

from gradcam_audit.core.spec.fields import sections
from gradcam_audit.core.spec.reference import spec_reference, write_docs_reference
from tests.spec.helpers import REPOSITORY

DOCS_PAGE = REPOSITORY / "docs" / "reference" / "spec.md"


def test_docs_spec_reference_page_equals_the_generated_one() -> None:
    if os.environ.get("GRADCAM_AUDIT_REGENERATE") == "1":
        write_docs_reference(DOCS_PAGE)
    assert DOCS_PAGE.read_text(encoding="utf-8") == spec_reference(), (
        f"{DOCS_PAGE} is out of date; run GRADCAM_AUDIT_REGENERATE=1 pytest tests/spec "
        "(or python -m gradcam_audit.core.spec.reference) to rewrite it"
    )


def test_docs_page_has_one_section_per_spec_section() -> None:
    page = DOCS_PAGE.read_text(encoding="utf-8")
    assert page.startswith("# Spec reference\n")
    for section in sections():
        assert f"\n## `{section}`\n" in page
