"""Issue 14: billing PDFs (receipt, protocol, declaration receipt) carry the one letterhead of
`core/pdf/_letterhead.html` and stay tagged."""

from __future__ import annotations

import pytest
import time_machine
from django.conf import settings
from django.template.loader import render_to_string

from kvportal.billing import services
from kvportal.core.pdf import pdf_structure, pdf_text
from tests.billing.conftest import ON_TIME, Q1, kvdt_file

pytestmark = pytest.mark.django_db

BILLING_PDFS = [
    "billing/pdf/receipt.html",
    "billing/pdf/protocol.html",
    "billing/pdf/declaration.html",
]


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(ON_TIME, tick=False) as traveller:
        yield traveller


@pytest.mark.parametrize("template", BILLING_PDFS)
def test_billing_pdf_templates_use_the_letterhead(template):
    html = render_to_string(template, {})
    assert html.count('class="letterhead"') == 1
    assert 'class="letterhead-name"' in html
    assert '<p class="letterhead-office">Abrechnung</p>' in html


def test_rendered_billing_pdfs_carry_letterhead_and_are_tagged(
    client, doctor, practice, submit_file
):
    submission = submit_file(doctor, practice, kvdt_file(practice.bsnr))
    services.give_declaration(actor=doctor, betriebsstaette=practice, quarter=Q1)
    client.force_login(doctor)
    urls = [
        f"/abrechnung/einreichung/{submission.pk}/empfangsbestaetigung.pdf",
        f"/abrechnung/einreichung/{submission.pk}/protokoll.pdf",
        f"/abrechnung/erklaerung/{practice.bsnr}/{Q1.slug}/bestaetigung.pdf",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        content = b"".join(response.streaming_content) if response.streaming else response.content
        text = pdf_text(content)
        assert settings.KV_NAME in text, url
        structure = pdf_structure(content)
        assert structure["tagged"] and structure["lang"].lower().startswith("de"), url
