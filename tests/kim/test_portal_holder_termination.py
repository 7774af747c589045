"""Issue 14: the holder's own „Postfach kündigen“ is a destructive decision — the shared
confirmation step (grace period, explicit confirmation); the reason is optional for the holder
(the KV's termination requires one) and audited when given."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kvportal.audit.models import AccessLogEntry
from kvportal.kim import rules
from kvportal.kim.models import AccountState
from tests.kim.test_portal_support import *  # noqa: F403 (fixtures)
from tests.kim.test_portal_support import practice_account
from tests.kim.test_portal_views import _login

pytestmark = pytest.mark.django_db


def _dereg_logs(account):
    return AccessLogEntry.objects.filter(
        object_type="kim.kimaccount", object_id=str(account.pk), detail__kim="deregistered"
    )


def test_account_page_links_to_the_step_and_get_shows_it(doctor, practice, registrar):
    account, _password = practice_account(doctor, practice, registrar)
    c = _login(doctor)
    url = f"/kim/konto/{account.pk}/"
    page = c.get(url).content.decode()
    assert f'href="{url}?action=deregister"' in page
    assert 'name="action" value="deregister"' not in page  # no one-click termination
    step = c.get(url, {"action": "deregister"})
    assert step.status_code == 200
    html = step.content.decode()
    until = timezone.localtime(rules.deregistration_date(timezone.now()))
    assert until.strftime("%d.%m.%Y") in html
    assert 'name="confirmed"' in html and 'name="reason"' in html
    assert f'action="{url}?action=deregister"' in html
    account.refresh_from_db()
    assert account.state == AccountState.REGISTERED


def test_post_without_confirmation_changes_nothing(doctor, practice, registrar):
    account, _password = practice_account(doctor, practice, registrar)
    c = _login(doctor)
    url = f"/kim/konto/{account.pk}/?action=deregister"
    for data in ({}, {"reason": "Praxis schließt"}, {"action": "deregister"}):
        response = c.post(url, data)
        assert response.status_code == 200
        assert "Bitte bestätigen Sie, dass Sie fortfahren möchten." in response.content.decode()
    # the old one-click form's POST (action in the body) also lands on the step
    assert c.post(f"/kim/konto/{account.pk}/", {"action": "deregister"}).status_code == 200
    account.refresh_from_db()
    assert account.state == AccountState.REGISTERED and account.deregistered_at is None
    assert not _dereg_logs(account).exists()


def test_confirmed_post_terminates_with_or_without_reason(doctor, practice, registrar):
    account, _password = practice_account(doctor, practice, registrar)
    c = _login(doctor)
    url = f"/kim/konto/{account.pk}/"
    response = c.post(url + "?action=deregister", {"confirmed": "on", "reason": "  Praxis \n zu "})
    assert response.status_code == 302 and response["Location"] == url
    account.refresh_from_db()
    assert account.state == AccountState.DEREGISTERING and account.usable()
    assert _dereg_logs(account).get().detail == {"kim": "deregistered", "reason": "Praxis zu"}
    # already terminated: the step is not offered again
    again = c.get(url, {"action": "deregister"})
    assert again.status_code == 302
    c.post(url, {"action": "revoke"})
    c.post(url + "?action=deregister", {"confirmed": "on"})
    account.refresh_from_db()
    assert account.state == AccountState.DEREGISTERING
    assert _dereg_logs(account).order_by("pk").last().detail == {"kim": "deregistered"}


def test_someone_elses_account_has_no_step(doctor, practice, registrar):
    from kvportal.accounts.constants import Right
    from kvportal.members.constants import Role
    from tests.factories import BetriebsstaetteFactory, doctor_account

    account, _password = practice_account(doctor, practice, registrar)
    other = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    c = _login(other)
    url = f"/kim/konto/{account.pk}/?action=deregister"
    assert c.get(url).status_code == 404
    assert c.post(url, {"confirmed": "on"}).status_code == 404
    account.refresh_from_db()
    assert account.state == AccountState.REGISTERED
