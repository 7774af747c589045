"""Issue 14 point 6: the QES declaration (`billing/pdf/erklaerung_qes.html`) carries the one
letterhead (`core/pdf/_letterhead.html`: the KV's name from the settings, office
„Abrechnung“) and no hand-made sender line; no PDF template spells out a KV's name."""

from __future__ import annotations

from pathlib import Path

import pytest

import kvportal
from kvportal.core.pdf import LETTERHEAD_MARK, pdf_text, render_html, render_pdf

TEMPLATE = "billing/pdf/erklaerung_qes.html"
CONTEXT = {"practice": {"bsnr": "123456700", "name": "Praxis Test"}, "text": "Ich erkläre …"}


@pytest.mark.django_db
def test_declaration_has_the_one_letterhead_with_the_office(settings):
    settings.KV_NAME = "Kassenärztliche Vereinigung Testland"
    html = render_html(TEMPLATE, CONTEXT)
    assert html.count(LETTERHEAD_MARK) == 1
    head = html.split(LETTERHEAD_MARK, 1)[1].split("</div>", 1)[0]
    assert "Kassenärztliche Vereinigung Testland" in head
    assert '<p class="letterhead-office">Abrechnung</p>' in head
    assert html.index(LETTERHEAD_MARK) < html.index("<h1")
    assert "Sachsen" not in html and 'class="sender"' not in html
    text = pdf_text(render_pdf(TEMPLATE, CONTEXT))
    assert "Kassenärztliche Vereinigung Testland" in text and "Abrechnung" in text


def test_no_pdf_template_spells_out_a_kv_name():
    root = Path(kvportal.__file__).parent
    spelled = [
        str(p.relative_to(root))
        for p in root.glob("*/templates/*/pdf/*.html")
        if "Kassenärztliche Vereinigung" in p.read_text(encoding="utf-8")
        and p.name != "_letterhead.html"  # its last fallback
    ]
    assert spelled == [], "use core/pdf/_letterhead.html (KV_NAME) instead"
