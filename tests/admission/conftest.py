"""Fixtures of the admission tests: an MVZ, its Ärztliche Leiterin, an employee at 0.5."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

import pytest

from tests.admission.sample import anlage1_rows, valid_data  # noqa: F401

FROZEN = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


def pdf_bytes(text: str = "Arbeitsvertrag") -> bytes:
    """A small real PDF (WeasyPrint-free: pypdf blank page with metadata)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": text})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass
class World:
    mvz: object
    leiterin: object  # user
    employee: object  # Person
    employee_user: object
    work: object  # Taetigkeit
    sessions: list


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(FROZEN, tick=False)
    return FROZEN


@pytest.fixture
def world(db, frozen):
    from kvportal.accounts.constants import Right
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
    leiterin = doctor_account(mvz, Role.AERZTLICHER_LEITER, Right.DOCS_BSNR, Right.BILLING)
    employee = PersonFactory(first_name="Erika", last_name="Beispiel", email="erika@example.org")
    work = TaetigkeitFactory(
        person=employee,
        betriebsstaette=mvz,
        role=Role.ANGESTELLT,
        anrechnungsfaktor=Decimal("0.5"),
        weekly_hours=Decimal("18"),
    )
    employee_user = UserFactory(person=employee, email="erika@example.org")
    sessions = [
        CommitteeSession.objects.create(bezirk="dresden", committee="aerzte", date=d)
        for d in (dt.date(2027, 1, 13), dt.date(2027, 2, 17), dt.date(2027, 3, 17))
    ]
    return World(mvz, leiterin, employee, employee_user, work, sessions)


@pytest.fixture
def draft(world):
    """A complete draft (Nachbesetzung, 0.5 → 0.75, 25 h, from 01.02.2027) with contract."""
    from kvportal.admission import services

    application = services.create_draft(
        actor=world.leiterin,
        type_code="erhoehung_arzt",
        betriebsstaette=world.mvz,
        employee=world.employee,
    )
    data = dict(application.data)
    data.update(
        factor_to="0.75",
        hours="25",
        effective_date="2027-02-01",
        mode="nachbesetzung",
        nachbesetzung_name="Dr. Hans Vorgänger",
        applicant_fach="Allgemeinmedizin",
        phone="0351 123456",
    )
    application = services.save_draft(actor=world.leiterin, application=application, data=data)
    services.add_attachment(
        actor=world.leiterin,
        application=application,
        kind="arbeitsvertrag",
        file_name="vertrag.pdf",
        content=pdf_bytes(),
    )
    return application


@pytest.fixture
def real_pdf():
    """Request this fixture to render PDFs with WeasyPrint (slow); others get a blank PDF."""
    return True


@pytest.fixture(autouse=True)
def _fast_pdfs(request, monkeypatch):
    if "real_pdf" in request.fixturenames:
        return
    from kvportal.admission import pdfs

    monkeypatch.setattr(
        pdfs, "render_pdf", lambda template, context=None, **kw: pdf_bytes(template)
    )
