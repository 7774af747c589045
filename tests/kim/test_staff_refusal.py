"""Issue 14: the Arztregister's refusal of an SMC-B order or a KIM account request is a
destructive decision — the shared confirmation step (consequence, reason, explicit
confirmation); without a reason nothing changes; the reason is audited and shown."""

from __future__ import annotations

import pytest

from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.kim import services
from kvportal.kim.models import AccountState, OrderState
from tests.kim.test_portal_support import *  # noqa: F403 (fixtures)
from tests.kim.test_portal_support import active_card, order_for
from tests.kim.test_portal_views import _login

pytestmark = pytest.mark.django_db

CONFIRMED = {"confirmed": "on"}  # posted to the step's own URL (`?action=refuse`)


def test_smcb_order_refusal_is_confirmed_with_a_reason(doctor, practice, registrar):
    order = order_for(doctor, practice)
    staff = _login(registrar, staff=True)
    url = f"/kim/kv/smcb/{order.pk}/"
    step = f"{url}?action=refuse"
    listing = staff.get("/kim/kv/smcb/").content.decode()
    assert f'href="{url}?action=refuse"' in listing  # a link to the step, no inline refusal

    page = staff.get(url, {"action": "refuse"})
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="confirm-step"' in text and "es wird keine Karte ausgestellt" in text

    page = staff.post(step, {**CONFIRMED, "reason": " "})
    assert page.status_code == 200
    assert "Bitte geben Sie eine Begründung an." in page.content.decode()
    assert 'id="id_reason_error"' in page.content.decode()
    page = staff.post(step, {"reason": "BSNR ruht."})
    assert "Bitte bestätigen Sie, dass Sie fortfahren möchten." in page.content.decode()
    order.refresh_from_db()
    assert order.state == OrderState.REQUESTED and not order.refusal_reason

    assert f'action="{step}"' in page.content.decode()
    response = staff.post(step, {**CONFIRMED, "reason": "BSNR ruht."})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.state == OrderState.REFUSED and order.refusal_reason == "BSNR ruht."
    log = AccessLogEntry.objects.get(
        activity=Activity.DECISION, object_type="kim.smcborder", object_id=str(order.pk)
    )
    assert log.detail == {"decision": "refused", "reason": "BSNR ruht."}
    assert "BSNR ruht." in staff.get("/kim/kv/smcb/?status=all").content.decode()
    assert "abgelehnt: BSNR ruht." in _login(doctor).get("/kim/").content.decode()
    # refused once: no second step
    assert staff.get(url, {"action": "refuse"}).status_code == 302


def test_other_order_actions_stay_post_only(doctor, practice, registrar):
    order = order_for(doctor, practice)
    staff = _login(registrar, staff=True)
    assert staff.get(f"/kim/kv/smcb/{order.pk}/", {"action": "confirm"}).status_code == 405
    order.refresh_from_db()
    assert order.state == OrderState.REQUESTED


def test_members_cannot_reach_the_refusal(doctor, practice, registrar):
    order = order_for(doctor, practice)
    member = _login(doctor)
    response = member.post(f"/kim/kv/smcb/{order.pk}/?action=refuse", {**CONFIRMED, "reason": "x"})
    assert response.status_code in (302, 403, 404)
    order.refresh_from_db()
    assert order.state == OrderState.REQUESTED


def test_account_request_refusal_is_confirmed_with_a_reason(doctor, practice, registrar):
    active_card(doctor, practice, registrar)
    account = services.request_practice_account(
        actor=doctor, betriebsstaette=practice, local_part="praxis-mueller"
    )
    staff = _login(registrar, staff=True)
    url = f"/kim/kv/konten/{account.pk}/"
    step = f"{url}?action=refuse"
    assert f'href="{url}?action=refuse"' in staff.get("/kim/kv/konten/").content.decode()
    assert 'id="confirm-step"' in staff.get(url, {"action": "refuse"}).content.decode()

    page = staff.post(step, {**CONFIRMED, "reason": ""})
    assert "Bitte geben Sie eine Begründung an." in page.content.decode()
    account.refresh_from_db()
    assert account.state == AccountState.REQUESTED

    response = staff.post(step, {**CONFIRMED, "reason": "Adresse nicht zulässig."})
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.state == AccountState.REFUSED
    assert account.refusal_reason == "Adresse nicht zulässig."
    log = AccessLogEntry.objects.get(
        activity=Activity.DECISION, object_type="kim.kimaccount", object_id=str(account.pk)
    )
    assert log.detail["reason"] == "Adresse nicht zulässig."
    listing = staff.get("/kim/kv/konten/", {"status": "refused"}).content.decode()
    assert "Adresse nicht zulässig." in listing
