"""PDFs from HTML templates with WeasyPrint (PDF/A-3b); fonts and CSS local, no network."""

from __future__ import annotations

from pathlib import Path

from django.template.loader import render_to_string

_STATIC = Path(__file__).resolve().parent / "static"


def _no_network(url: str, *args, **kwargs):
    """Only files from the portal's own static folders may be loaded."""
    from weasyprint import default_url_fetcher

    if url.startswith("file://"):
        return default_url_fetcher(url, *args, **kwargs)
    raise ValueError(f"Externe Ressource in PDF-Vorlage nicht erlaubt: {url}")


def render_pdf(template_name: str, context: dict | None = None, *, pdf_a: bool = True) -> bytes:
    from weasyprint import CSS, HTML

    html = render_to_string(template_name, context or {})
    stylesheet = CSS(filename=str(_STATIC / "core" / "pdf.css"))
    document = HTML(string=html, base_url=str(_STATIC), url_fetcher=_no_network)
    options = {"pdf_variant": "pdf/a-3b"} if pdf_a else {}
    return document.write_pdf(stylesheets=[stylesheet], **options)


def merge_pdfs(parts: list[bytes]) -> bytes:
    """One PDF from several (e.g. a batch of credential letters for printing)."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(io.BytesIO(part))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_text(content: bytes) -> str:
    """Extracted text of a PDF (tests and plausibility checks)."""
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)
