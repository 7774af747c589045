"""Seed 001: billing opens from the quarter after the first password change (frozen time)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from kvportal.access import services
from kvportal.accounts import rules as account_rules
from kvportal.accounts import services as account_services
from kvportal.accounts.constants import Right, StaffRole
from kvportal.accounts.models import PortalRight
from kvportal.core.quarters import Quarter
from tests.factories import BetriebsstaetteFactory, UserFactory, kv_staff

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


def first_change_at(moment: dt.datetime, client):
    """A new account from a letter; the holder changes the password at `moment`."""
    registrar = kv_staff(StaffRole.ARZTREGISTER, username="kv.reg")
    practice = BetriebsstaetteFactory()
    user = UserFactory(first_password_change_at=None)
    PortalRight.objects.create(user=user, betriebsstaette=practice, right=Right.BILLING)
    with time_machine.travel(moment - dt.timedelta(days=2), tick=False):
        issued = services.reissue_letter(actor=registrar, user=user)
    with time_machine.travel(moment, tick=False):
        user.refresh_from_db()
        account_services.change_password(
            actor=user, user=user, new_password="Neues-Passwort-2026!x"
        )
        client.force_login(user)
        page = client.get("/").content.decode()
    user.refresh_from_db()
    assert issued.password  # the letter's password was the one replaced
    return user, page


@pytest.mark.parametrize(
    ("moment", "opens"),
    [
        (dt.datetime(2026, 3, 31, 23, 59, tzinfo=BERLIN), Quarter(2026, 2)),
        (dt.datetime(2026, 4, 1, 12, 0, tzinfo=BERLIN), Quarter(2026, 3)),
        (dt.datetime(2026, 12, 31, 23, 0, tzinfo=BERLIN), Quarter(2027, 1)),
        (dt.datetime(2027, 1, 1, 12, 0, tzinfo=BERLIN), Quarter(2027, 2)),
    ],
)
def test_billing_opens_next_quarter_shown_on_start_page(client, moment, opens):
    user, page = first_change_at(moment, client)
    assert user.first_password_change_at == moment
    assert f"ab dem Quartal {opens}" in page
    changed_on = user.first_password_change_at.astimezone(BERLIN).date()
    assert account_rules.billing_opens_quarter(changed_on) == opens
    assert not account_rules.billing_is_open(changed_on, opens.previous())
    assert account_rules.billing_is_open(changed_on, opens)


def test_later_password_change_does_not_move_the_date(client):
    user, _ = first_change_at(dt.datetime(2026, 2, 10, 10, 0, tzinfo=BERLIN), client)
    with time_machine.travel(dt.datetime(2026, 5, 2, 10, 0, tzinfo=BERLIN), tick=False):
        account_services.change_password(
            actor=user, user=user, new_password="Noch-ein-Passwort-77!"
        )
        client.force_login(user)
        page = client.get("/").content.decode()
    assert "ab dem Quartal 2/2026" in page


def test_change_just_after_midnight_local_time(client):
    # 1 April 00:30 in Dresden is still 31 March in UTC: billing must open in Q3, not Q2.
    _, page = first_change_at(dt.datetime(2026, 4, 1, 0, 30, tzinfo=BERLIN), client)
    assert "ab dem Quartal 3/2026" in page
