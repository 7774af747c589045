# BITV 2.0 / PDF/UA: every PDF the portal produces is tagged (structure tree, language, title).
"""PDFs from HTML templates with WeasyPrint; fonts and CSS local, no network.

Archived documents (letters, protocols, receipts, applications, decisions) are PDF/A-3a —
archivable *and* tagged; the rest (`pdf_a=False`) is PDF/UA-1. Both carry a structure tree
built from the template's HTML, the document language (`<html lang="de">`) and its title.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string

_STATIC = Path(__file__).resolve().parent / "static"
#: Archivable and tagged (level "a" = accessible).
ARCHIVE_VARIANT = "pdf/a-3a"
#: Tagged, for PDFs that are not archived.
ACCESSIBLE_VARIANT = "pdf/ua-1"
#: The one letterhead of every PDF and the mark of its block in the HTML.
LETTERHEAD_TEMPLATE = "core/pdf/_letterhead.html"
LETTERHEAD_MARK = 'class="letterhead"'
_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def _no_network(url: str, *args, **kwargs):
    """Only files from the portal's own static folders may be loaded."""
    from weasyprint import default_url_fetcher

    if url.startswith("file://"):
        return default_url_fetcher(url, *args, **kwargs)
    raise ValueError(f"Externe Ressource in PDF-Vorlage nicht erlaubt: {url}")


def render_html(template_name: str, context: dict | None = None) -> str:
    """The HTML of a PDF template, always with the one letterhead (issue 14 point 6,
    `core/pdf/_letterhead.html`): a template includes it where it names an office or another
    body (`org`, e.g. the Zulassungsausschuss); any other gets it, naming the KV, at the top of
    its body."""
    from django.conf import settings

    context = {"letterhead_name": settings.KV_NAME, **(context or {})}
    html: str = render_to_string(template_name, context)
    if LETTERHEAD_MARK not in html:
        letterhead = render_to_string(LETTERHEAD_TEMPLATE, context)
        body = _BODY.search(html)
        at = body.end() if body else 0
        html = html[:at] + letterhead + html[at:]
    return html


def render_pdf(template_name: str, context: dict | None = None, *, pdf_a: bool = True) -> bytes:
    from weasyprint import CSS, HTML

    html = render_html(template_name, context)
    stylesheet = CSS(filename=str(_STATIC / "core" / "pdf.css"))
    document = HTML(string=html, base_url=str(_STATIC), url_fetcher=_no_network)
    variant = ARCHIVE_VARIANT if pdf_a else ACCESSIBLE_VARIANT
    return document.write_pdf(stylesheets=[stylesheet], pdf_variant=variant, pdf_tags=True)


def pdf_structure(content: bytes) -> dict:
    """What makes a PDF accessible, as read back from the file (tests and checks):
    tagged (MarkInfo/Marked), the structure tree's top-level roles, language and title."""
    import io

    from pypdf import PdfReader
    from pypdf.generic import DictionaryObject, StreamObject

    reader = PdfReader(io.BytesIO(content))
    root = reader.trailer["/Root"].get_object()
    assert isinstance(root, DictionaryObject)
    mark_info = root.get("/MarkInfo")
    tree = root.get("/StructTreeRoot")
    roles: list[str] = []

    def walk(node, depth: int = 0) -> None:
        node = node.get_object()
        if isinstance(node, list):
            for child in node:
                walk(child, depth)
            return
        if not hasattr(node, "get"):
            return
        if "/S" in node:
            roles.append(str(node["/S"]))
        if depth < 12 and "/K" in node:
            walk(node["/K"], depth + 1)

    if tree is not None:
        walk(tree.get_object().get("/K", []))
    info: Any = reader.metadata or {}
    xmp = b""
    if "/Metadata" in root:
        metadata = root["/Metadata"].get_object()
        xmp = metadata.get_data() if isinstance(metadata, StreamObject) else b""
    part = re.search(rb"pdfaid:part[>=\"']+\s*(\d)", xmp)
    conformance = re.search(rb"pdfaid:conformance[>=\"']+\s*([A-Za-z])", xmp)
    return {
        "pdfa": (part.group(1) + conformance.group(1)).decode().lower()
        if part and conformance
        else "",
        "pdfua": b"pdfuaid:part" in xmp,
        "tagged": bool(mark_info and mark_info.get_object().get("/Marked")),
        "roles": roles,
        "lang": str(root.get("/Lang", "")),
        "title": str(info.get("/Title", "") or ""),
    }


def pdf_text(content: bytes) -> str:
    """Extracted text of a PDF (tests and plausibility checks)."""
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)
