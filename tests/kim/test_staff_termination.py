"""Issue 14: the Arztregister's termination („Kündigen“) of a KIM account is a destructive
decision — the shared confirmation step (grace period, reason, explicit confirmation);
without a reason nothing changes; the reason is audited. A refused account request is shown
to the practice on /kim/ with the reason and the address as requested."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from kvportal.audit.models import AccessLogEntry
from kvportal.kim import rules, services
from kvportal.kim.models import AccountState
from tests.kim.test_portal_support import *  # noqa: F403 (fixtures)
from tests.kim.test_portal_support import active_card, practice_account
from tests.kim.test_portal_views import _login

pytestmark = pytest.mark.django_db

CONFIRMED = {"confirmed": "on"}


def _dereg_logs(account):
    return AccessLogEntry.objects.filter(
        object_type="kim.kimaccount", object_id=str(account.pk), detail__kim="deregistered"
    )


def test_staff_termination_is_confirmed_with_a_reason(doctor, practice, registrar):
    account, _password = practice_account(doctor, practice, registrar)
    staff = _login(registrar, staff=True)
    url = f"/kim/kv/konten/{account.pk}/"
    step = f"{url}?action=deregister"
    listing = staff.get("/kim/kv/konten/", {"status": "registered"}).content.decode()
    assert f'href="{step}"' in listing  # a link to the step, no inline POST form
    assert 'name="action" value="deregister"' not in listing

    page = staff.get(url, {"action": "deregister"})
    assert page.status_code == 200
    text = page.content.decode()
    until = timezone.localtime(rules.deregistration_date(timezone.now())).strftime("%d.%m.%Y")
    assert 'id="confirm-step"' in text and f"bleibt bis {until} abrufbar" in text
    assert f'action="{step}"' in text
    account.refresh_from_db()
    assert account.state == AccountState.REGISTERED  # a GET changes nothing

    page = staff.post(step, {**CONFIRMED, "reason": "  "})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Bitte geben Sie eine Begründung an." in text and 'id="id_reason_error"' in text
    page = staff.post(step, {"reason": "Praxis aufgegeben."})
    assert "Bitte bestätigen Sie, dass Sie fortfahren möchten." in page.content.decode()
    account.refresh_from_db()
    assert account.state == AccountState.REGISTERED and account.deregistered_at is None
    assert not _dereg_logs(account).exists()

    response = staff.post(step, {**CONFIRMED, "reason": "Praxis aufgegeben."})
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.state == AccountState.DEREGISTERING and account.deregistration_date
    assert _dereg_logs(account).get().detail == {
        "kim": "deregistered",
        "reason": "Praxis aufgegeben.",
    }
    # terminated once: no second step
    assert staff.get(url, {"action": "deregister"}).status_code == 302


def test_termination_without_a_step_is_not_possible(doctor, practice, registrar):
    account, _password = practice_account(doctor, practice, registrar)
    staff = _login(registrar, staff=True)
    # the old inline form (action in the body, no reason) only shows the step
    page = staff.post(f"/kim/kv/konten/{account.pk}/", {"action": "deregister"})
    assert page.status_code == 200 and 'id="confirm-step"' in page.content.decode()
    account.refresh_from_db()
    assert account.state == AccountState.REGISTERED
    # the service itself refuses a KV termination without a reason
    with pytest.raises(ValidationError) as exc:
        services.deregister_account(actor=registrar, account=account, reason=" ")
    assert exc.value.message_dict == {"reason": ["Bitte geben Sie einen Kündigungsgrund an."]}
    account.refresh_from_db()
    assert account.state == AccountState.REGISTERED


def test_holder_terminates_own_account_without_reason(doctor, practice, registrar):
    account, _password = practice_account(doctor, practice, registrar)
    services.deregister_account(actor=doctor, account=account)
    account.refresh_from_db()
    assert account.state == AccountState.DEREGISTERING
    assert _dereg_logs(account).get().detail == {"kim": "deregistered"}


def test_members_cannot_reach_the_staff_termination(doctor, practice, registrar):
    account, _password = practice_account(doctor, practice, registrar)
    member = _login(doctor)
    response = member.post(
        f"/kim/kv/konten/{account.pk}/?action=deregister", {**CONFIRMED, "reason": "x"}
    )
    assert response.status_code in (302, 403, 404)
    account.refresh_from_db()
    assert account.state == AccountState.REGISTERED


def test_staff_lists_pass_no_refuse_form(doctor, practice, registrar):
    staff = _login(registrar, staff=True)
    for url in ("/kim/kv/konten/", "/kim/kv/smcb/"):
        assert "refuse_form" not in staff.get(url).context


def test_practice_sees_refused_account_with_reason(doctor, practice, registrar):
    active_card(doctor, practice, registrar)
    account = services.request_practice_account(
        actor=doctor, betriebsstaette=practice, local_part="praxis-mueller"
    )
    requested = account.address
    services.refuse_account(actor=registrar, account=account, reason="Adresse nicht zulässig.")
    page = _login(doctor).get("/kim/").content.decode()
    date = timezone.localtime(account.requested_at).strftime("%d.%m.%Y")
    row = page.split(f'id="kim-refused-{account.pk}"', 1)[1].split("</tr>", 1)[0]
    assert f"<code>{requested}</code>" in row  # the address as requested, not the freed one
    assert f"Antrag vom {date} abgelehnt: Adresse nicht zulässig." in row
    assert f"/kim/konto/{account.pk}/" not in row  # nothing to manage
    # a registered account keeps its row and link
    other, _password = practice_account(doctor, practice, registrar, local="praxis-zwei")
    page = _login(doctor).get("/kim/").content.decode()
    assert f"<code>{other.address}</code>" in page and f"/kim/konto/{other.pk}/" in page


def test_doctor_may_request_a_personal_account_again_after_a_refusal(doctor, registrar):
    client = _login(doctor)
    assert 'id="kim-request-personal"' in client.get("/kim/").content.decode()
    account = services.request_personal_account(actor=doctor, local_part="dr-test")
    requested = account.address
    page = client.get("/kim/").content.decode()
    assert 'id="kim-request-personal"' not in page  # an open request
    services.refuse_account(actor=registrar, account=account, reason="Kein eHBA registriert.")
    page = client.get("/kim/").content.decode()
    line = page.split(f'id="kim-refused-{account.pk}"', 1)[1].split("</p>", 1)[0]
    assert f"<code>{requested}</code>" in line and "abgelehnt: Kein eHBA registriert." in line
    assert 'id="kim-request-personal"' in page
    assert client.get("/kim/konto/beantragen/").status_code == 200
