"""Erklärung zur Abrechnung with a QES: a signature-entitled doctor signs, the declaration is
given with method "qes"; an employed doctor's signature does not count."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kvportal.accounts.constants import Right
from kvportal.cardlib import signing
from kvportal.ehba.integrations import BILLING_LABEL
from kvportal.ehba.models import SignatureDocument
from kvportal.members.constants import Role
from tests.ehba.conftest import PIN_QES, make_pdf
from tests.factories import BetriebsstaetteFactory, doctor_account

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def setup(settings, pki, monkeypatch):
    settings.EHBA_TEST_PKI_DIR = str(pki.directory)
    from kvportal.core import pdf

    monkeypatch.setattr(pdf, "render_pdf", lambda template, context=None, **kw: make_pdf("EzA"))


@pytest.fixture
def world():
    from kvportal.billing.models import Submission

    practice = BetriebsstaetteFactory()
    doctor = doctor_account(
        practice, Role.VERTRAGSARZT, Right.BILLING, first_name="Anna", last_name="Müller"
    )
    employed = doctor_account(
        practice, Role.ANGESTELLT, Right.BILLING, first_name="Bernd", last_name="Schulz"
    )
    submission = Submission.objects.create(
        betriebsstaette=practice,
        quarter="2026-4",
        kind="con",
        original_name="Z01.con",
        storage_name="x",
        size=1,
        sha256="0" * 64,
        submitted_by=doctor,
        submitted_by_name="Anna Müller",
        timing="on_time",
    )
    return practice, doctor, employed, submission


def sign_and_upload(client, user, card, submission):
    client.force_login(user)
    url = reverse("ehba:sign", args=[BILLING_LABEL, submission.pk])
    assert client.get(url).status_code == 200
    doc = SignatureDocument.objects.get()
    assert doc.key == "erklaerung-2026-4"
    resp = client.get(reverse("ehba:document_download", args=[doc.pk, "aktuell"]))
    signed = signing.sign_pdf(card, b"".join(resp.streaming_content), pin=PIN_QES)
    return client.post(
        reverse("ehba:document_upload", args=[doc.pk]),
        {"signed_pdf": SimpleUploadedFile("s.pdf", signed, content_type="application/pdf")},
        HTTP_ACCEPT="application/json",
    )


def test_entitled_doctor_gives_declaration_with_qes(client, world, new_card):
    from kvportal.billing.models import Declaration

    practice, doctor, _employed, submission = world
    resp = sign_and_upload(client, doctor, new_card(), submission)
    assert resp.json()["ok"] and resp.json()["complete"], resp.json()
    declaration = Declaration.objects.get(betriebsstaette=practice, quarter="2026-4")
    assert declaration.method == "qes" and declaration.given_by == doctor
    assert declaration.evidence["ehba_report"]
    # once given, the declaration is closed for further signing
    page = client.get(reverse("ehba:sign", args=[BILLING_LABEL, submission.pk])).content.decode()
    assert 'id="ehba-sign-start"' not in page


def test_employed_doctor_signature_is_refused(client, world, new_card):
    from kvportal.billing.models import Declaration

    _practice, _doctor, employed, submission = world
    card = new_card(given_name="Bernd", surname="Schulz", telematik_id="1-114777")
    resp = sign_and_upload(client, employed, card, submission)
    assert resp.status_code == 422
    assert "gehört nicht zu den Unterzeichnenden" in resp.json()["message"]
    assert not Declaration.objects.exists()


def test_billing_detail_offers_qes_to_entitled_doctor(client, world):
    _practice, doctor, employed, submission = world
    link = reverse("ehba:sign", args=[BILLING_LABEL, submission.pk])
    client.force_login(doctor)
    assert link in client.get(reverse("billing:detail", args=[submission.pk])).content.decode()
    client.force_login(employed)
    assert link not in client.get(reverse("billing:detail", args=[submission.pk])).content.decode()
