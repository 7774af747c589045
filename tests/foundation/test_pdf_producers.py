"""Issue 14 point 6 with real data: PDF producers that are not already covered by a
rendered-PDF test (billing: tests/guided/test_pdf_letterhead.py) produce tagged PDFs whose first
line is the one letterhead — the KIM letters (whose templates carry no letterhead of their own)
and the admission Beschluss and agenda."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from kvportal.core.pdf import pdf_structure, pdf_text
from tests.admission.conftest import draft, frozen, world  # noqa: F401 (fixtures)
from tests.kim.test_portal_support import *  # noqa: F403 (fixtures)
from tests.kim.test_portal_support import order_for

pytestmark = pytest.mark.django_db

COMMITTEE = "Zulassungsausschüsse Ärzte Sachsen"


def _first_line(content: bytes) -> str:
    return next(line.strip() for line in pdf_text(content).splitlines() if line.strip())


def _assert_tagged_with_letterhead(content: bytes, name: str) -> None:
    structure = pdf_structure(content)
    assert structure["tagged"] and structure["roles"]
    assert structure["lang"].lower().startswith("de") and structure["title"].strip()
    assert _first_line(content) == name


def test_kim_pin_letter_and_credentials_carry_the_letterhead(doctor, practice, registrar):
    from kvportal.kim import services
    from kvportal.kim.services_letters import credentials_pdf, pin_letter_pdf

    order = order_for(doctor, practice)
    services.confirm_order(actor=registrar, order=order)
    issued = services.issue_card(actor=registrar, order=order)
    _assert_tagged_with_letterhead(pin_letter_pdf(issued), settings.KV_NAME)

    services.activate_card(
        actor=doctor, card=issued.card, transport_pin=issued.pin, new_pin="482913"
    )
    account = services.request_practice_account(
        actor=doctor, betriebsstaette=practice, local_part="praxis-mueller"
    )
    credentials = services.register_account(actor=registrar, account=account)
    content = credentials_pdf(credentials)
    _assert_tagged_with_letterhead(content, settings.KV_NAME)
    assert credentials.account.address in pdf_text(content)


def test_admission_decision_and_agenda_carry_the_letterhead(draft, world):  # noqa: F811
    from kvportal.accounts.constants import StaffRole
    from kvportal.admission import display, pdfs, services
    from tests.factories import kv_staff

    office = kv_staff(StaffRole.ZULASSUNG, username="kv.zulassung.pdf")
    application = services.submit(
        actor=world.leiterin, application=draft, token=str(draft.submission_token)
    )
    services.confirm(
        actor=world.employee_user, signatory=application.signatories.get(user=world.employee_user)
    )
    application.refresh_from_db()
    services.request_fee(actor=office, application=application, deadline=dt.date(2026, 12, 14))
    services.book_payment(actor=office, application=application, paid_on=dt.date(2026, 11, 23))
    services.schedule(actor=office, application=application, session=world.sessions[0])
    services.decide(actor=office, application=application, outcome="abgelehnt", reasons="Gründe.")
    application.refresh_from_db()
    _assert_tagged_with_letterhead(pdfs.decision_pdf(application), COMMITTEE)
    agenda = pdfs.agenda_pdf(world.sessions[0])  # the committee names itself in the letterhead
    _assert_tagged_with_letterhead(agenda, display.committee_label(world.sessions[0].committee))
    assert application.reference in pdf_text(agenda)
