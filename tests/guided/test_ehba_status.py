"""Issue 14: eHBA pages with a checklist (card reader, PIN letter/PIN set, signing agent asked
via its /status) and a status line (registered, certificate valid until, last card login)."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from kvportal.accounts.constants import Right
from kvportal.ehba.models import CardRegistration
from kvportal.ehba.status import EXPIRY_WARNING_DAYS, card_status
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, doctor_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def doctor():
    return doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)


def register(user, *, valid_days: int | None, last_login: dt.datetime | None = None):
    now = timezone.now()
    return CardRegistration.objects.create(
        user=user,
        person=user.person,
        name="eHBA",
        telematik_id="1-20014711",
        profession="arzt",
        holder_name="Test Ärztin",
        certificate_fingerprint="ab" * 32,
        certificate_not_after=None if valid_days is None else now + dt.timedelta(days=valid_days),
        last_login_at=last_login,
    )


def page(client, user) -> str:
    client.force_login(user)
    response = client.get("/ehba/einrichtung/")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_status_without_registration(client, doctor):
    status = card_status(doctor)
    assert not status.registered and status.days_left is None
    text = page(client, doctor)
    assert "Keine Karte registriert" in text
    assert 'id="ehba-to-register"' in text


def test_status_line_names_validity_and_last_card_login(client, doctor):
    last = timezone.now() - dt.timedelta(days=3)
    reg = register(doctor, valid_days=400, last_login=last)
    status = card_status(doctor)
    assert status.registered and not status.expired and not status.expiring
    text = page(client, doctor)
    local_until = timezone.localtime(reg.certificate_not_after)
    assert f"Zertifikat gültig bis {local_until:%d.%m.%Y}" in text
    assert f"zuletzt mit Karte angemeldet am {timezone.localtime(last):%d.%m.%Y %H:%M}" in text
    assert "Karte registriert" in text and "1-20014711" in text


def test_status_line_warns_before_and_after_expiry(client, doctor):
    reg = register(doctor, valid_days=EXPIRY_WARNING_DAYS - 10)
    status = card_status(doctor)
    assert status.expiring and not status.expired
    assert "noch " in page(client, doctor) and "message-warning" in page(client, doctor)
    reg.certificate_not_after = timezone.now() - dt.timedelta(days=2)
    reg.save()
    assert card_status(doctor).expired
    text = page(client, doctor)
    assert "Zertifikat abgelaufen am" in text and "Folgekarte" in text
    assert "noch nie mit der Karte angemeldet" in text


def test_checklist_names_reader_pin_and_agent_and_asks_agent_status(client, doctor):
    text = page(client, doctor)
    for marker in ("Kartenlesegerät", "PIN-Brief", "Signatur-Agent", "kvportal card agent"):
        assert marker in text
    assert f'data-agent-url="{settings.EHBA_AGENT_URL.rstrip("/")}"' in text
    assert "ehba/checklist.js" in text
    from django.contrib.staticfiles import finders

    script = Path(finders.find("ehba/checklist.js")).read_text(encoding="utf-8")
    assert '"/status"' in script and "Transport-PIN" in script


def test_register_and_login_pages_link_the_checklist(client, doctor):
    register(doctor, valid_days=100)
    client.force_login(doctor)
    register_page = html.unescape(client.get("/ehba/registrieren/").content.decode())
    assert 'id="ehba-status-line"' in register_page and "/ehba/einrichtung/" in register_page
    client.logout()
    login_page = client.get("/ehba/anmelden/").content.decode()
    assert "/ehba/einrichtung/" in login_page


def test_checklist_needs_a_member_login(client):
    assert client.get("/ehba/einrichtung/").status_code == 302
