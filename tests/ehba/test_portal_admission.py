"""QES wiring into the admission app: both signatories sign, confirmations become "qes"."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from kvportal.admission.rules.dates import first_of_next_month
from kvportal.cardlib import signing
from kvportal.ehba.integrations import ADMISSION_LABEL
from kvportal.ehba.models import SignatureDocument
from tests.ehba.conftest import PIN_QES

pytestmark = pytest.mark.django_db


def blank_pdf(title: str = "Antrag") -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def setup(settings, pki, monkeypatch):
    settings.EHBA_TEST_PKI_DIR = str(pki.directory)
    from kvportal.admission import pdfs

    monkeypatch.setattr(pdfs, "render_pdf", lambda template, context=None, **kw: blank_pdf())


def submitted_application():
    """An MVZ's application (raise of an employee's factor) as the admission app submits it."""
    from kvportal.accounts.constants import Right
    from kvportal.admission import services
    from kvportal.admission.models import CommitteeSession
    from kvportal.members.constants import Role
    from tests.factories import (
        BetriebsstaetteFactory,
        PersonFactory,
        TaetigkeitFactory,
        UserFactory,
        doctor_account,
    )

    mvz = BetriebsstaetteFactory(mvz=True, bsnr="951234500", email="info@mvz.example")
    leiterin = doctor_account(
        mvz,
        Role.AERZTLICHER_LEITER,
        Right.DOCS_BSNR,
        Right.BILLING,
        first_name="Anna",
        last_name="Berger",
    )
    employee = PersonFactory(first_name="Erika", last_name="Beispiel", email="erika@example.org")
    TaetigkeitFactory(
        person=employee,
        betriebsstaette=mvz,
        role=Role.ANGESTELLT,
        anrechnungsfaktor=Decimal("0.5"),
        weekly_hours=Decimal("18"),
    )
    employee_user = UserFactory(person=employee, email="erika@example.org")
    # sessions and the effective date from the clock the test runs under: the first session
    # lies beyond the 6-week lead time, the effective date is the first of a month after it
    today = timezone.localdate()
    sessions = [today + dt.timedelta(weeks=w) for w in (7, 12, 17)]
    for day in sessions:
        CommitteeSession.objects.create(bezirk="dresden", committee="aerzte", date=day)
    effective = first_of_next_month(sessions[0])
    application = services.create_draft(
        actor=leiterin, type_code="erhoehung_arzt", betriebsstaette=mvz, employee=employee
    )
    data = dict(application.data)
    data.update(
        factor_to="0.75",
        hours="25",
        effective_date=effective.isoformat(),
        mode="nachbesetzung",
        nachbesetzung_name="Dr. Hans Vorgänger",
        applicant_fach="Allgemeinmedizin",
        phone="0351 123456",
    )
    application = services.save_draft(actor=leiterin, application=application, data=data)
    services.add_attachment(
        actor=leiterin,
        application=application,
        kind="arbeitsvertrag",
        file_name="vertrag.pdf",
        content=blank_pdf("Vertrag"),
    )
    application = services.submit(
        actor=leiterin, application=application, token=str(application.submission_token)
    )
    return application, leiterin, employee_user


def upload(client, document, pdf):
    return client.post(
        reverse("ehba:document_upload", args=[document.pk]),
        {"signed_pdf": SimpleUploadedFile("s.pdf", pdf, content_type="application/pdf")},
        HTTP_ACCEPT="application/json",
    )


def sign_current(client, card, document):
    resp = client.get(reverse("ehba:document_download", args=[document.pk, "aktuell"]))
    return signing.sign_pdf(card, b"".join(resp.streaming_content), pin=PIN_QES)


@pytest.mark.parametrize("employee_first", [True, False])
def test_both_signatories_sign_with_qes(client, new_card, employee_first):
    application, leiterin, employee_user = submitted_application()
    assert application.state == "eingereicht"
    rep, emp = application.signatories.all()
    assert rep.confirmation.method == "portal" and emp.confirmation is None
    cards = {
        leiterin.pk: new_card(given_name="Anna", surname="Berger", telematik_id="1-111"),
        employee_user.pk: new_card(given_name="Erika", surname="Beispiel", telematik_id="1-222"),
    }
    url = reverse("ehba:sign", args=[ADMISSION_LABEL, application.pk])
    order = [employee_user, leiterin] if employee_first else [leiterin, employee_user]
    for user in order:
        client.force_login(user)
        page = client.get(url)
        assert page.status_code == 200
        for document in SignatureDocument.objects.all():
            resp = upload(client, document, sign_current(client, cards[user.pk], document))
            assert resp.json()["ok"], resp.json()
    assert resp.json()["complete"]
    application.refresh_from_db()
    assert application.state == "vollstaendig"  # all signatories confirmed
    emp.refresh_from_db()
    confirmation = emp.confirmation
    assert confirmation.method == "qes"
    assert confirmation.evidence["telematik_id"] == "1-222"
    doc = SignatureDocument.objects.get(key__startswith="antrag-")
    assert doc.complete and doc.signature_count == 2
    # the staff of the Geschäftsstelle sees the Prüfprotokoll
    from tests.conftest import otp_verify
    from tests.factories import kv_staff

    staff = kv_staff("Zulassung", username="kv.zul")
    client.force_login(staff)
    otp_verify(client, staff)
    page = client.get(url).content.decode()
    assert "Erika Beispiel" in page and "Anna Berger" in page
    assert 'id="ehba-complete"' in page


def test_outsider_cannot_open_admission_signing(client):
    application, _leiterin, _employee = submitted_application()
    from tests.factories import PersonFactory, UserFactory

    client.force_login(UserFactory(person=PersonFactory()))
    url = reverse("ehba:sign", args=[ADMISSION_LABEL, application.pk])
    assert client.get(url).status_code == 404


def test_admission_detail_links_to_signing(client):
    application, leiterin, _employee = submitted_application()
    client.force_login(leiterin)
    page = client.get(reverse("admission:detail", args=[application.pk])).content.decode()
    assert reverse("ehba:sign", args=[ADMISSION_LABEL, application.pk]) in page
