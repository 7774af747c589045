"""Issue 14 / defect 6: tables of generated PDFs fit the page (the admission agenda ran off
it), and the letters share one letterhead."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from kvportal.core import pdf as core_pdf


def _layout(template: str, context: dict):
    from weasyprint import CSS, HTML

    html = render_to_string(template, context)
    stylesheet = CSS(filename=str(core_pdf._STATIC / "core" / "pdf.css"))
    document = HTML(string=html, base_url=str(core_pdf._STATIC), url_fetcher=core_pdf._no_network)
    return document.render(stylesheets=[stylesheet])


def _boxes(box):
    yield box
    for child in getattr(box, "children", []) or []:
        yield from _boxes(child)


def _overflow(document) -> float:
    """How far (CSS px) the widest box reaches beyond the right page margin (<= 0 = fits)."""
    worst = -1.0
    for page in document.pages:
        root = page._page_box
        limit = root.content_box_x() + root.width
        for box in _boxes(root):
            if box is root or not hasattr(box, "border_box_x"):
                continue
            try:
                right = box.border_box_x() + box.border_width()
            except TypeError:  # boxes without a computed layout
                continue
            worst = max(worst, right - limit)
    return worst


def _rows(n: int) -> list[dict]:
    return [
        {
            "number": i,
            "reference": f"ZA-2026-{i:05d}",
            "applicant": "Medizinisches Versorgungszentrum Elbtal Dresden-Neustadt GmbH",
            "bsnr": "953000100",
            "employee": "Dipl.-Psych. Maria-Theresia Keller-Oberländer",
            "title": "Erhöhung des Anrechnungsfaktors eines angestellten Arztes",
            "change": "0,5 → 0,75",
            "effective": "01.04.2026",
            "state": "Gebühr bezahlt",
        }
        for i in range(1, n + 1)
    ]


@pytest.mark.django_db
def test_admission_agenda_table_fits_the_page():
    document = _layout(
        "admission/pdf/agenda.html",
        {
            "date": "15.04.2026",
            "rows": _rows(30),
            "committee_label": "Zulassungsausschuss Ärzte",
            "bezirk_label": "Dresden",
        },
    )
    assert len(document.pages) >= 2  # long enough to break across pages
    assert _overflow(document) <= 0.5


@pytest.mark.django_db
@pytest.mark.parametrize(
    "template",
    [
        "access/pdf/credential_letter.html",
        "admission/pdf/agenda.html",
        "admission/pdf/decision.html",
        "admission/pdf/fee_request.html",
    ],
)
def test_letters_share_one_letterhead(template):
    letter = {"recipient_name": "Dr. Test", "salutation_name": "Dr. Test"}
    html = render_to_string(template, {"letter": letter, "rows": []})
    assert html.count('class="letterhead"') >= 1
    assert 'class="letterhead-name"' in html
