"""The letter written in the portal, rendered to PDF/A-3a (core/pdf.py)."""

from __future__ import annotations

from django.utils import timezone

from kvportal.core.pdf import render_pdf


def render_letter(*, author, practice, recipients: list[tuple[str, str]], data) -> bytes:
    """`recipients`: (name, KIM address) of each recipient."""
    paragraphs = [p for p in str(data["text"]).replace("\r\n", "\n").split("\n\n") if p.strip()]
    return render_pdf(
        "arztbrief/pdf/brief.html",
        {
            "author": author,
            "practice": practice,
            "recipients": recipients,
            "letter": data,
            "paragraphs": paragraphs,
            "today": timezone.localdate(),
        },
    )
