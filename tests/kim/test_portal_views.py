"""KIM pages end to end through the test client: a practice orders its SMC-B, the Arztregister
confirms and issues (PIN letter PDF), the practice activates it, requests an account, the
account manager registers it (credential letter PDF); Kollegensuche; rights and 404s."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from kvportal.accounts.constants import Right, StaffRole
from kvportal.accounts.models import PortalRight
from kvportal.kim.models import AccountState, KimAccount, OrderState, SmcbCard, SmcbOrder
from kvportal.members.constants import Role
from tests.conftest import otp_verify
from tests.factories import BetriebsstaetteFactory, doctor_account
from tests.kim.test_portal_support import *  # noqa: F403 (fixtures)
from tests.kim.test_portal_support import NEW_PIN, active_card, practice_account

pytestmark = pytest.mark.django_db


def _login(user, *, staff=False) -> Client:
    c = Client()
    c.force_login(user)
    if staff:
        otp_verify(c, user)
    return c


def _pdf_text(content: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_full_journey_order_issue_activate_account(doctor, practice, registrar):
    member, staff = _login(doctor), _login(registrar, staff=True)
    page = member.get("/kim/")
    assert page.status_code == 200
    assert "SMC-B bestellen" in page.content.decode()
    form = member.get(f"/kim/smcb/bestellen/{practice.bsnr}/").content.decode()
    assert 'value="Praxis Müller"' in form and 'value="Leipzig"' in form  # prefilled
    response = member.post(
        f"/kim/smcb/bestellen/{practice.bsnr}/",
        {
            "practice_name": "Praxis Müller",
            "street": "Teststraße 1",
            "postal_code": "04109",
            "city": "Leipzig",
            "contact_email": "praxis@praxis.example",
            "confirm": "on",
        },
    )
    assert response.status_code == 302
    order = SmcbOrder.objects.get(betriebsstaette=practice)
    assert order.postal_code == "04109"

    assert member.get("/kim/kv/smcb/").status_code in (302, 403, 404)
    listing = staff.get("/kim/kv/smcb/").content.decode()
    assert practice.bsnr in listing
    staff.post(f"/kim/kv/smcb/{order.pk}/", {"action": "confirm"})
    response = staff.post(f"/kim/kv/smcb/{order.pk}/", {"action": "issue"})
    assert response["Content-Type"] == "application/pdf"
    text = _pdf_text(response.content)
    card = SmcbCard.objects.get(order=order)
    assert card.iccsn in text and "PUK" in text
    pin = re.search(r"Transport-PIN\s*\(PIN\.SMC\)\s*(\d{6})", text).group(1)

    response = member.post(
        f"/kim/smcb/{card.pk}/freischalten/",
        {"act-transport_pin": "999999", "act-new_pin": NEW_PIN, "act-new_pin_again": NEW_PIN},
    )
    assert response.status_code == 200 and "Verbleibende Versuche: 2" in response.content.decode()
    response = member.post(
        f"/kim/smcb/{card.pk}/freischalten/",
        {"act-transport_pin": pin, "act-new_pin": NEW_PIN, "act-new_pin_again": NEW_PIN},
    )
    assert response.status_code == 302
    download = member.get(f"/kim/smcb/{card.pk}/karte.json")
    assert download.status_code == 200 and b"kvportal-smcb/1" in download.content

    response = member.post(
        f"/kim/konto/beantragen/{practice.bsnr}/",
        {"local_part": "praxis-mueller", "department": "Anmeldung"},
    )
    assert response.status_code == 302
    account = KimAccount.objects.get(address="praxis-mueller@kv-sachsen.kim.example")
    response = staff.post(f"/kim/kv/konten/{account.pk}/", {"action": "register"})
    assert response["Content-Type"] == "application/pdf"
    text = _pdf_text(response.content)
    account.refresh_from_db()
    assert account.state == AccountState.REGISTERED
    assert account.reference_id in text and "praxis-mueller@kv-sachsen.kim.example" in text
    # billing-right holders got the mailbox right (delegable)
    assert PortalRight.objects.filter(
        user=doctor, betriebsstaette=practice, right=Right.KIM_POSTFACH
    ).exists()
    order.refresh_from_db()
    assert order.state == OrderState.ACTIVATED


def test_order_form_errors_are_german_and_at_the_field(doctor, practice):
    member = _login(doctor)
    response = member.post(
        f"/kim/smcb/bestellen/{practice.bsnr}/",
        {"practice_name": "", "street": "x", "postal_code": "12", "city": "Leipzig"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "fünf Ziffern" in html and "bestätigen Sie" in html
    assert 'id="id_postal_code_error"' in html
    assert not SmcbOrder.objects.exists()


def test_other_practice_pages_are_404(doctor, practice, registrar):
    card = active_card(doctor, practice, registrar)
    stranger = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    c = _login(stranger)
    assert c.get(f"/kim/smcb/bestellen/{practice.bsnr}/").status_code == 404
    assert c.get(f"/kim/smcb/{card.pk}/karte.json").status_code == 404
    assert c.get(f"/kim/konto/beantragen/{practice.bsnr}/").status_code == 404


def test_staff_pages_need_arztregister(doctor, practice):
    from tests.factories import kv_staff

    billing_staff = kv_staff(StaffRole.ABRECHNUNG, username="kv.abr")
    c = _login(billing_staff, staff=True)
    assert c.get("/kim/kv/smcb/").status_code in (302, 403, 404)
    assert c.get("/kim/kv/konten/").status_code in (302, 403, 404)


def test_kollegensuche_finds_practice_with_copyable_address(doctor, practice, registrar):
    account, _ = practice_account(doctor, practice, registrar)
    searcher = doctor_account(BetriebsstaetteFactory(city="Dresden"), Role.VERTRAGSARZT)
    c = _login(searcher)
    for query in (
        "?q=Müller",
        "?city=Leipzig",
        f"?telematik_id=1-2{practice.bsnr}",
        "?q=praxis-mueller",
    ):
        html = c.get("/kim/kollegensuche/" + query).content.decode()
        assert f'value="{account.address}"' in html, query
    html = c.get("/kim/kollegensuche/?q=Niemand").content.decode()
    assert "Keine Einträge gefunden" in html


def test_limits_edit_within_range_and_deregistration(doctor, practice, registrar):
    account, _ = practice_account(doctor, practice, registrar)
    c = _login(doctor)
    url = f"/kim/konto/{account.pk}/"
    response = c.post(
        url,
        {
            "action": "limits",
            "lim-max_mail_size": "734003200",
            "lim-data_time_to_live": "400",
            "lim-quota": "-1",
        },
    )
    assert response.status_code == 200 and "365" in response.content.decode()
    account.refresh_from_db()
    assert account.data_time_to_live == 90
    c.post(
        url,
        {
            "action": "limits",
            "lim-max_mail_size": "734003200",
            "lim-data_time_to_live": "30",
            "lim-quota": str(account.quota),
        },
    )
    account.refresh_from_db()
    assert account.data_time_to_live == 30
    c.post(url + "?action=deregister", {"confirmed": "on"})
    account.refresh_from_db()
    assert account.state == AccountState.DEREGISTERING and account.deregistration_date
    assert account.usable()
    c.post(url, {"action": "revoke"})
    account.refresh_from_db()
    assert account.state == AccountState.REGISTERED


def test_personal_account_only_for_own_person(doctor, registrar):
    c = _login(doctor)
    response = c.post("/kim/konto/beantragen/", {"local_part": "dr-test"})
    assert response.status_code == 302
    account = KimAccount.objects.get(address="dr-test@kv-sachsen.kim.example")
    assert account.owner == doctor and account.person == doctor.person
    other = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    assert _login(other).get(f"/kim/konto/{account.pk}/").status_code == 404


def test_failed_forms_tie_errors_to_fields(doctor, practice, registrar):
    """WCAG 1.3.1/3.3.1: order, activation (service error at the PIN field) and limits."""
    from tests.a11y_forms import assert_errors_tied
    from tests.kim.test_portal_support import order_for

    member = _login(doctor)
    html = member.post(f"/kim/smcb/bestellen/{practice.bsnr}/", {"postal_code": "1"}).content
    assert_errors_tied(html.decode(), expect_links=3)
    order = order_for(doctor, practice)
    from kvportal.kim import services

    services.confirm_order(actor=registrar, order=order)
    issued = services.issue_card(actor=registrar, order=order)
    html = member.post(
        f"/kim/smcb/{issued.card.pk}/freischalten/",
        {"act-transport_pin": "999999", "act-new_pin": NEW_PIN, "act-new_pin_again": NEW_PIN},
    ).content.decode()
    page = assert_errors_tied(html)
    assert "id_act-transport_pin" in page.invalid
    services.activate_card(
        actor=doctor, card=issued.card, transport_pin=issued.pin, new_pin=NEW_PIN
    )
    account = services.request_practice_account(
        actor=doctor, betriebsstaette=practice, local_part="praxis-a11y"
    )
    services.register_account(actor=registrar, account=account)
    html = member.post(
        f"/kim/konto/{account.pk}/",
        {
            "action": "limits",
            "lim-max_mail_size": "1",
            "lim-data_time_to_live": "5",
            "lim-quota": "-1",
        },
    ).content.decode()
    assert_errors_tied(html, expect_links=2)
