"""The portal as the Fachdienst's account source: registered accounts log in with the
initial password of the credential letter; requested, refused, deregistered ones do not;
limits come from the account (AccountLimit.yaml)."""

from __future__ import annotations

import datetime as dt

import pytest

from kvportal.kim import services
from kvportal.kim.models import AccountState
from tests.kim.test_portal_support import *  # noqa: F403 (fixtures)
from tests.kim.test_portal_support import practice_account

fachdienst = pytest.importorskip("kvportal.kim.fachdienst")
if not hasattr(fachdienst, "AccountSource"):  # the server side lands in another branch
    pytest.skip("kvportal.kim.fachdienst.AccountSource not merged yet", allow_module_level=True)

from kvportal.kim.accountsource import PortalAccountSource  # noqa: E402

pytestmark = pytest.mark.django_db


def test_implements_the_protocol():
    assert isinstance(PortalAccountSource(), fachdienst.AccountSource)


def test_registered_account_logs_in_case_insensitive(doctor, practice, registrar):
    account, password = practice_account(doctor, practice, registrar)
    source = PortalAccountSource()
    found = source.lookup(account.address.upper())
    assert found.address == account.address and found.active
    assert found.limits.data_time_to_live == 90
    assert found.limits.max_mail_size == account.max_mail_size
    assert source.check_password(account.address.upper(), password)
    assert not source.check_password(account.address, password + "x")
    assert not source.check_password("niemand@kv-sachsen.kim.example", password)
    assert source.lookup("niemand@kv-sachsen.kim.example") is None


def test_limits_follow_the_portal(doctor, practice, registrar):
    account, _ = practice_account(doctor, practice, registrar)
    services.update_limits(
        actor=doctor,
        account=account,
        max_mail_size=800_000_000,
        data_time_to_live=30,
        quota=account.quota,
    )
    limits = PortalAccountSource().lookup(account.address).limits
    assert (limits.max_mail_size, limits.data_time_to_live) == (800_000_000, 30)


def test_requested_account_does_not_exist_for_the_server(doctor, practice, registrar):
    from tests.kim.test_portal_support import active_card

    active_card(doctor, practice, registrar)
    account = services.request_practice_account(
        actor=doctor, betriebsstaette=practice, local_part="praxis-neu"
    )
    assert PortalAccountSource().lookup(account.address) is None


def test_deregistered_account_usable_within_grace_period_only(doctor, practice, registrar):
    account, password = practice_account(doctor, practice, registrar)
    now = dt.datetime.now(dt.UTC)
    services.deregister_account(actor=doctor, account=account, now=now)
    source = PortalAccountSource()
    assert source.lookup(account.address).active
    assert source.check_password(account.address, password)
    # past the deregDate: the purge job ends it, the server refuses it
    result = services.finish_deregistrations(now=now + dt.timedelta(days=31))
    assert result.count == 1
    account.refresh_from_db()
    assert account.state == AccountState.DEREGISTERED
    assert not source.lookup(account.address).active
    assert not source.check_password(account.address, password)
