"""Issue 13: audit.record() refuses a write activity outside a transaction (raise in DEBUG and
tests, log in production); entry-point services are durable; TOTP enrolment is a service."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from kvportal import audit
from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.audit.services import UnauditedWrite, in_transaction

pytestmark = pytest.mark.django_db


def test_a_write_outside_a_transaction_is_refused():
    # the atomic block pytest wraps around the test does not count
    assert not in_transaction()
    with pytest.raises(UnauditedWrite, match="outside a transaction"):
        audit.record(actor=None, activity=Activity.UPDATE, object_repr="x")
    assert not AccessLogEntry.objects.exists()


def test_a_write_inside_a_transaction_is_recorded():
    with transaction.atomic():
        assert in_transaction()
        audit.record(actor=None, activity=Activity.DELETE, object_repr="x")
    assert AccessLogEntry.objects.filter(activity=Activity.DELETE).count() == 1


@pytest.mark.parametrize("activity", [Activity.VIEW, Activity.DOWNLOAD, Activity.LOGIN_FAILED])
def test_reads_and_events_may_be_logged_on_their_own(activity):
    audit.record(actor=None, activity=activity, object_repr="x")
    assert AccessLogEntry.objects.filter(activity=activity).count() == 1


def test_production_logs_instead_of_raising(settings, caplog):
    settings.AUDIT_REQUIRE_TRANSACTION = False
    with caplog.at_level(logging.ERROR, logger="kvportal.audit.services"):
        audit.record(actor=None, activity=Activity.STAFF_ACTION, object_repr="x")
    assert "outside a transaction" in caplog.text
    assert AccessLogEntry.objects.filter(activity=Activity.STAFF_ACTION).count() == 1


def test_debug_and_tests_raise_by_default():
    from django.conf import settings

    assert settings.AUDIT_REQUIRE_TRANSACTION is True


@pytest.mark.parametrize(
    "service",
    [
        "kvportal.admission.services:withdraw",
        "kvportal.admission.services:decide",
        "kvportal.admission.services:confirm_with_code",
        "kvportal.access.services:approve",
        "kvportal.access.services:resend_confirmation",
        "kvportal.accounts.services:confirm_totp_device",
    ],
)
def test_entry_point_services_cannot_be_nested(service):
    import importlib

    module, name = service.split(":")
    func = getattr(importlib.import_module(module), name)
    kwargs = (
        {"signatory": None, "code": ""}
        if name == "confirm_with_code"
        else {"actor": None, "application": None}
    )
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        func(**kwargs)


def test_totp_enrolment_confirms_with_the_first_right_code_and_is_audited():
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from kvportal.accounts import services
    from tests.factories import UserFactory

    user = UserFactory()
    device = services.totp_enrolment_device(actor=user)
    assert services.totp_enrolment_device(actor=user).pk == device.pk  # one pending device
    right = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    wrong = "000000" if right != "000000" else "111111"
    assert services.confirm_totp_device(actor=user, device=device, token=wrong) is False
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    assert not AccessLogEntry.objects.filter(activity=Activity.OTP_ENABLED).exists()
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    assert services.confirm_totp_device(actor=user, device=device, token=f" {right} ") is True
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    entry = AccessLogEntry.objects.get(activity=Activity.OTP_ENABLED)
    assert entry.user == user
