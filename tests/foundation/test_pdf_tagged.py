"""Every PDF the portal produces is tagged (BITV 2.0): structure tree, language, title —
PDF/A-3a for archived documents, PDF/UA-1 for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

import kvportal
from kvportal.core.pdf import pdf_structure, render_pdf

ROOT = Path(kvportal.__file__).parent
PDF_TEMPLATES = sorted(
    str(p.relative_to(p.parents[2]))
    for p in ROOT.glob("*/templates/*/pdf/*.html")
    if not p.name.startswith("_")
)


#: the smallest context a template needs to render at all
CONTEXTS = {
    "access/pdf/credential_letter.html": {
        "letter": {"recipient_name": "Dr. Test", "salutation_name": "Dr. Test"}
    }
}


def test_every_pdf_template_is_found():
    assert len(PDF_TEMPLATES) >= 10  # access, admission, billing, ehba


@pytest.mark.django_db
@pytest.mark.parametrize("template", PDF_TEMPLATES)
@pytest.mark.parametrize("pdf_a", [True, False])
def test_pdf_is_tagged_with_language_and_title(template, pdf_a):
    content = render_pdf(template, CONTEXTS.get(template, {}), pdf_a=pdf_a)
    structure = pdf_structure(content)
    assert structure["tagged"], f"{template}: not tagged"
    assert structure["roles"], f"{template}: empty structure tree"
    assert structure["lang"].lower().startswith("de"), f"{template}: no language"
    assert structure["title"].strip(), f"{template}: no title"
    if pdf_a:
        assert structure["pdfa"] == "3a", f"{template}: not PDF/A-3a"
    else:
        assert structure["pdfua"], f"{template}: not PDF/UA"


def test_untagged_pdf_is_recognised():
    """The check itself can fail: a plain pypdf page has no structure tree."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
    out = io.BytesIO()
    writer.write(out)
    structure = pdf_structure(out.getvalue())
    assert not structure["tagged"] and not structure["roles"]
