"""Shared fixtures. Staff logins: `staff_client(role)` gives a client already past TOTP."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    """Each test writes private files to its own folder."""
    settings.PRIVATE_ROOT = tmp_path / "private"
    from django.utils.functional import empty

    from kvportal.core.storage import private_storage

    private_storage._wrapped = empty
    yield
    private_storage._wrapped = empty


def otp_verify(client, user):
    """Mark the client's session as verified with a TOTP device (KV staff)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(user=user, name="Test", confirmed=True)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()


@pytest.fixture
def staff_client(client, db):
    """`staff_client("Abrechnung")` → (client, user) logged in as KV staff with that role."""
    from tests.factories import kv_staff

    def make(*roles: str):
        user = kv_staff(*roles, username=f"kv.{'-'.join(roles).lower() or 'staff'}")
        client.force_login(user)
        otp_verify(client, user)
        return client, user

    return make


@pytest.fixture
def member_client(client, db):
    """`member_client(user)` → client logged in as that member."""

    def make(user):
        client.force_login(user)
        return client

    return make
