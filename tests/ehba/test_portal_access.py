"""QES wiring into the access application (seed 000): Träger and Ärztlicher Leiter sign the
application PDF with their eHBA; their confirmations get method "qes"."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from kvportal.cardlib import signing
from kvportal.ehba.integrations import ACCESS_LABEL
from kvportal.ehba.models import SignatureDocument
from tests.ehba.conftest import PIN_QES

pytestmark = pytest.mark.django_db


def blank_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def setup(settings, pki, monkeypatch):
    settings.EHBA_TEST_PKI_DIR = str(pki.directory)
    from kvportal.access import pdf

    monkeypatch.setattr(pdf, "application_pdf", lambda app: blank_pdf())


@pytest.fixture
def application():
    """An MVZ's access application waiting for confirmations (status "bestaetigung")."""
    from kvportal.access import rules
    from kvportal.access.models import AccessApplication, ApplicationPerson, Confirmation
    from tests.factories import PersonFactory, UserFactory

    leiter = PersonFactory(first_name="Anna", last_name="Berger")
    creator = UserFactory(person=leiter, first_name="Anna", last_name="Berger")
    app = AccessApplication.objects.create(
        reference="OZ-2026-00001",
        variant="mvz",
        practice_name="MVZ Elbtal",
        bsnr="951234500",
        traeger_name="Elbtal MVZ GmbH",
        created_by=creator,
        status="bestaetigung",
    )
    for pos, (role, first, last, lanr) in enumerate(
        [("traeger", "Thomas", "Krüger", ""), ("leiter", "Anna", "Berger", leiter.lanr)]
    ):
        ApplicationPerson.objects.create(
            application=app,
            position=pos,
            role=role,
            first_name=first,
            last_name=last,
            lanr=lanr,
            email=f"{last.lower()}@mvz.example",
        )
    app.fingerprint = rules.content_fingerprint(app.to_rules())
    app.save()
    for person in app.persons.all():
        Confirmation.objects.create(
            application=app,
            person=person,
            person_key=person.key,
            fingerprint=app.fingerprint,
            token_hash=f"h{person.pk}",
            expires_at=timezone.now() + dt.timedelta(days=14),
        )
    return app, creator


def test_both_signatories_sign_the_access_application(client, application, new_card):
    from kvportal.access import services as access_services

    app, creator = application
    client.force_login(creator)
    url = reverse("ehba:sign", args=[ACCESS_LABEL, app.pk])
    status = client.get(reverse("access:status", args=[app.reference])).content.decode()
    assert url in status  # the access status page links to the signing page
    page = client.get(url).content.decode()
    assert "Träger" in page and "Thomas Krüger" in page
    doc = SignatureDocument.objects.get()
    cards = [
        new_card(given_name="Anna", surname="Berger", telematik_id="1-111"),
        new_card(given_name="Thomas", surname="Krüger", telematik_id="1-333"),
    ]
    for card in cards:  # the applicant uploads both signatures (Träger signed on her PC)
        resp = client.get(reverse("ehba:document_download", args=[doc.pk, "aktuell"]))
        signed = signing.sign_pdf(card, b"".join(resp.streaming_content), pin=PIN_QES)
        resp = client.post(
            reverse("ehba:document_upload", args=[doc.pk]),
            {"signed_pdf": SimpleUploadedFile("s.pdf", signed, content_type="application/pdf")},
            HTTP_ACCEPT="application/json",
        )
        assert resp.json()["ok"], resp.json()
    assert resp.json()["complete"]
    assert hasattr(access_services, "confirm_with_qes")
    methods = set(app.confirmations.values_list("method", flat=True))
    assert methods == {"qes"}
    conf = app.confirmations.get(person_key__startswith="lanr:")
    assert conf.evidence["telematik_id"] == "1-111"
    app.refresh_from_db()
    assert app.status == "eingereicht"  # every required confirmation is there
    assert client.get(reverse("access:status", args=[app.reference])).status_code == 200


def test_required_persons_come_from_the_application(application):
    from kvportal.ehba.integrations import access_required

    app, _creator = application
    required = access_required(app)
    assert [(r.given_name, r.surname) for r in required] == [
        ("Thomas", "Krüger"),
        ("Anna", "Berger"),
    ]
    assert required[0].label.endswith("Thomas Krüger")
